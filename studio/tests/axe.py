"""axe-core in browser tests: inject the vendored engine into a page, run it, keep what matters.

The engine (studio/tests/vendor/axe-core/, never served) is evaluated through the DevTools
protocol, so the page's Content-Security-Policy neither blocks it nor reports it.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

AXE_JS = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = ("serious", "critical")


@cache
def axe_source() -> str:
    return AXE_JS.read_text(encoding="utf-8")


def axe_violations(page, *, impacts: tuple[str, ...] = BLOCKING_IMPACTS) -> list[dict]:
    """The page's axe violations of the given impacts (serious and critical by default), each
    {id, impact, help, nodes: [{target, html, summary}]}."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    violations = page.evaluate("""async () => {
        const result = await window.axe.run(document, { resultTypes: ["violations"] });
        return result.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map((n) => ({ target: n.target, html: n.html,
                                         summary: n.failureSummary })) }));
    }""")
    return [violation for violation in violations if violation["impact"] in impacts]


def describe(violations: list[dict]) -> str:
    """Violations as a readable failure message."""
    lines = []
    for violation in violations:
        lines.append(f"{violation['impact']}: {violation['id']} — {violation['help']}")
        for node in violation["nodes"][:5]:
            lines.append(f"    {node['target']}: {node['html'][:160]}")
            if node.get("summary"):
                lines.append("      " + node["summary"].replace("\n", "\n      ")[:400])
    return "\n".join(lines)
