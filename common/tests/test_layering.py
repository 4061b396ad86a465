"""Dependencies flow one way between the apps, and no module imports itself back in a circle.

Read from the source with `ast`, so a violation is found without running the code path that
imports. Tests are left out: they may use the test support in project/testing.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BELOW_JOBS = {"providers", "accounts", "common"}
# Each app and the apps it may import: project → studio → notifications → jobs → providers;
# accounts below jobs; common at the bottom; the local provider is an outside service.
MAY_IMPORT = {
    "common": set(),
    "accounts": {"common"},
    "providers": {"common"},
    "jobs": BELOW_JOBS,
    "notifications": {"jobs"} | BELOW_JOBS,
    "studio": {"notifications", "jobs"} | BELOW_JOBS,
    "project": {"studio", "notifications", "jobs"} | BELOW_JOBS,
    "local_provider": set(),
    "bench": {"project", "studio", "notifications", "jobs"} | BELOW_JOBS,  # tooling, on top
}


def source_modules(root: Path, apps) -> dict[str, Path]:
    """{dotted module name: file} of every app module, tests left out."""
    modules = {}
    for app in apps:
        for path in sorted((root / app).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if "tests" in parts or parts[-1] == "conftest":
                continue
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


class _Imports(ast.NodeVisitor):
    """Collects imported names with whether they run at import time (not inside a function,
    not under `if TYPE_CHECKING:`)."""

    def __init__(self, module: str, is_package: bool) -> None:
        self.package = module if is_package else module.rpartition(".")[0]
        self.found: list[tuple[str, bool]] = []
        self.depth = 0

    def _deferred(self, node) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _deferred

    def visit_If(self, node: ast.If) -> None:
        test = node.test
        name = test.id if isinstance(test, ast.Name) else getattr(test, "attr", "")
        if name == "TYPE_CHECKING":
            return
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.found.append((alias.name, self.depth == 0))

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            anchor = self.package.split(".")
            anchor = anchor[:len(anchor) - (node.level - 1)]
            base = ".".join(anchor + ([base] if base else []))
        for alias in node.names:
            self.found.append((f"{base}.{alias.name}", self.depth == 0))
            self.found.append((base, self.depth == 0))


def import_graph(root: Path, apps) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(edges run at import time, all edges) between the app modules."""
    modules = source_modules(root, apps)
    eager: dict[str, set[str]] = {name: set() for name in modules}
    every: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        visitor = _Imports(name, path.name == "__init__.py")
        visitor.visit(ast.parse(path.read_text(), filename=str(path)))
        for target, at_import in visitor.found:
            parts = target.split(".")
            # `import a.b.c` runs a, a.b and a.b.c: the longest known module, and its packages.
            while parts and ".".join(parts) not in modules:
                parts.pop()
            for end in range(1, len(parts) + 1):
                imported = ".".join(parts[:end])
                if imported != name and imported in modules:
                    every[name].add(imported)
                    if at_import:
                        eager[name].add(imported)
    return eager, every


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def upward_imports(graph: dict[str, set[str]], may_import) -> list[str]:
    wrong = []
    for module, targets in sorted(graph.items()):
        app = module.split(".")[0]
        for target in sorted(targets):
            other = target.split(".")[0]
            if other != app and other not in may_import[app]:
                wrong.append(f"{module} imports {target}")
    return wrong


def test_no_module_imports_itself_back_in_a_circle():
    """No import circle between the modules of the apps."""
    eager, _ = import_graph(ROOT, MAY_IMPORT)
    assert circles(eager) == []


def test_dependencies_between_apps_flow_one_way():
    """No app imports one above it, not even inside a function."""
    _, every = import_graph(ROOT, MAY_IMPORT)
    assert upward_imports(every, MAY_IMPORT) == []


# Inside jobs: writes live in services, dispatch/ orchestrates them, tasks start it.
JOBS_ORCHESTRATION = ("jobs.dispatch.engine", "jobs.dispatch.poller", "jobs.dispatch.reconciler",
                      "jobs.dispatch.mirror", "jobs.dispatch.copier", "jobs.tasks")


def test_jobs_services_and_selectors_never_call_the_orchestration():
    """Services, selectors and models of jobs import nothing of the dispatch orchestration."""
    _, every = import_graph(ROOT, ["jobs"])
    wrong = [f"{module} imports {target}" for module, targets in sorted(every.items())
             if module.startswith(("jobs.services", "jobs.selectors", "jobs.models"))
             for target in sorted(targets) if target in JOBS_ORCHESTRATION]
    assert wrong == []


def test_the_checks_see_a_circle_and_an_upward_import(tmp_path):
    """The checks above find what they look for (a circle through a relative import, an upward
    import inside a function), and skip imports only for type checkers."""
    (tmp_path / "low").mkdir()
    (tmp_path / "low" / "__init__.py").write_text("")
    (tmp_path / "low" / "a.py").write_text("from . import b\n\n\ndef f():\n    import high\n")
    (tmp_path / "low" / "b.py").write_text("import low.a\n")
    (tmp_path / "low" / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from low import a\n")
    (tmp_path / "high").mkdir()
    (tmp_path / "high" / "__init__.py").write_text("from low import c\n")
    layers = {"low": set(), "high": {"low"}}
    eager, every = import_graph(tmp_path, layers)
    assert circles(eager) == [["low.a", "low.b"]]
    assert upward_imports(every, layers) == ["low.a imports high"]
    assert eager["low.c"] == set()
