"""Coverage floors per app and per layer: print a table from coverage's JSON report, fail below.

`make coverage` runs it after the suite (CI too). A floor is a glob over paths relative to the
repository (fnmatch: `*` also crosses `/`) and the percent of statements its files must reach
together. `{app}` stands for every top-level package the report has files in, so a new app (or a
services package moved into an app) is held to the same floors without an edit here; a glob
written out for one app takes the place of the `{app}` one that would give the same row. Set
floors a little below what the suite reaches, and raise them as it reaches more.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import sys
from dataclasses import dataclass
from pathlib import Path

FLOORS: dict[str, float] = {
    # Every app, whole; an app not named below gets this one.
    "{app}/*": 80,
    "accounts/*": 91,
    "common/*": 90,
    "jobs/*": 92,
    "notifications/*": 96,
    # make run's supervisor, the web server and the role runner run as processes of their own
    # (not measured); their tests drive them from outside (launcher/tests).
    "launcher/*": 40,
    # The installer runs as a process of its own too (project/tests/test_install.py).
    "project/*": 80,
    "providers/*": 94,
    # Layers, in every app that has them: writes, reads and the dispatch engine (a module or a
    # package of that name).
    "{app}/services*": 90,
    "{app}/selectors*": 90,
    "{app}/dispatch/*": 90,
}

DEFAULT_REPORT = Path("test-artifacts/coverage/coverage.json")


@dataclass
class Row:
    glob: str
    floor: float
    files: int = 0
    statements: int = 0
    missing: int = 0

    @property
    def percent(self) -> float:
        if not self.statements:
            return 100.0
        return 100.0 * (self.statements - self.missing) / self.statements

    @property
    def ok(self) -> bool:
        # Compared at coverage's own display precision, so a row printed 90.0 passes a floor of 90.
        return round(self.percent, 1) >= self.floor


def load_report(path: Path) -> dict[str, tuple[int, int]]:
    """{relative path: (statements, missing)} from `coverage json`."""
    files = json.loads(path.read_text())["files"]
    return {name.replace("\\", "/"): (data["summary"]["num_statements"],
                                      data["summary"]["missing_lines"])
            for name, data in files.items()}


def expand(floors: dict[str, float], paths: list[str]) -> dict[str, float]:
    """The floors with `{app}` replaced by each top-level package; written-out globs win."""
    apps = sorted({path.split("/", 1)[0] for path in paths if "/" in path})
    rows: dict[str, float] = {}
    for glob, floor in floors.items():
        if "{app}" in glob:
            for app in apps:
                rows.setdefault(glob.format(app=app), floor)
    for glob, floor in floors.items():
        if "{app}" not in glob:
            rows[glob] = floor
    return rows


def measure(report: dict[str, tuple[int, int]], floors: dict[str, float]) -> list[Row]:
    """One row per glob that matches a file; globs that match nothing are left out."""
    rows = []
    for glob, floor in sorted(expand(floors, list(report)).items()):
        row = Row(glob, floor)
        for path, (statements, missing) in report.items():
            if fnmatch.fnmatchcase(path, glob):
                row.files += 1
                row.statements += statements
                row.missing += missing
        if row.files:
            rows.append(row)
    return rows


def table(rows: list[Row]) -> str:
    width = max([len(row.glob) for row in rows] + [len("files")])
    lines = [f"{'files':<{width}}  {'count':>5}  {'stmts':>6}  {'miss':>5}  {'cover':>6}  "
             f"{'floor':>5}"]
    for row in rows:
        verdict = "" if row.ok else "  BELOW FLOOR"
        lines.append(f"{row.glob:<{width}}  {row.files:>5}  {row.statements:>6}  "
                     f"{row.missing:>5}  {row.percent:>5.1f}%  {row.floor:>4g}%{verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", nargs="?", type=Path, default=DEFAULT_REPORT,
                        help="coverage's JSON report (`coverage json`)")
    rows = measure(load_report(parser.parse_args(argv).report), FLOORS)
    print(table(rows))
    below = [row for row in rows if not row.ok]
    if below:
        print(f"\n{len(below)} below the floor: " + ", ".join(row.glob for row in below)
              + " (add tests, or lower the floor in project/testing/coverage_floors.py with a reason)")
        return 1
    print(f"\nAll {len(rows)} coverage floors met.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
