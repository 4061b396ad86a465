"""`python -m bench <benchmark> [flags]`: run one benchmark (`--help` after its name for flags).

Benchmarks: spike, drain, ceiling, fanout, spike10, uploads, eta; `all` runs spike, drain, ceiling,
fanout and uploads one after the other with their defaults (what `make bench` runs after the
pytest benchmarks).
"""

from __future__ import annotations

import importlib
import sys
import traceback

BENCHMARKS = {
    "spike": "bench.spike",
    "drain": "bench.drain",
    "ceiling": "bench.ceiling",
    "fanout": "bench.fanout",
    "spike10": "bench.spike10",
    "uploads": "bench.uploads",
    "eta": "bench.eta",
}
SUITE = ("spike", "drain", "ceiling", "fanout", "uploads")


def main(argv: list[str]) -> int:
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name == "all":
        failed = []
        for each in SUITE:
            try:
                rc = importlib.import_module(BENCHMARKS[each]).main(list(rest))
            except Exception:  # reported with its traceback; the suite goes on
                traceback.print_exc()
                rc = 1
            if rc == 130:  # interrupted: stop the suite too
                return rc
            if rc != 0:
                failed.append(each)
        if failed:
            print(f"benchmarks that did not finish: {', '.join(failed)}")
        return 1 if failed else 0
    if name not in BENCHMARKS:
        print(f"unknown benchmark {name!r}; choose from {', '.join(BENCHMARKS)} or all")
        return 2
    return importlib.import_module(BENCHMARKS[name]).main(rest)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
