"""The 10× spike: 50,000 submissions in 60 s from 3,000 users/sockets, on the production topology.

`python -m bench spike10 [spike flags]` — the spike benchmark (bench/spike.py) with ten times
the load and `--target stack` by default. Read its "saturation" line: when the first non-202
came, the first 1-s window whose p99 passed 1 s, and which roles were at a full core then.
"""

from __future__ import annotations

import sys

from bench import spike

DEFAULTS = {"submits": 50000, "seconds": 60.0, "users": 3000, "name": "spike10",
            "target": "stack"}


def main(argv: list[str] | None = None) -> int:
    return spike.main(argv, defaults=DEFAULTS)


if __name__ == "__main__":
    sys.exit(main())
