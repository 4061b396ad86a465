"""What every benchmark shares: its command line, starting the target, seeding, cleaning up."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.load import raise_nofile_limit
from bench.metrics import ProcessSampler
from bench.report import yardstick
from bench.target import TARGETS, Target
from launcher.embedded import BASE_DIR

SEED_TIMEOUT = 180


@dataclass(frozen=True)
class BenchUser:
    user_id: int
    token: str
    selfie_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.token}"}


def parser(description: str, prog: str | None = None) -> argparse.ArgumentParser:
    result = argparse.ArgumentParser(description=description, prog=prog,
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    result.add_argument("--target", choices=TARGETS, default="run",
                        help="run: `python -m launcher.run` (make run); stack: `python -m "
                             "bench.stack` (the production topology)")
    result.add_argument("--results-dir", type=Path, default=None,
                        help="where the JSON and PNG go (default bench/results/)")
    return result


def seed_users(target: Target, count: int, *, prefix: str = "bench") -> list[BenchUser]:
    """Create `count` users with a token and a selfie each, in a helper process (bench.seed)."""
    started = time.monotonic()
    with tempfile.NamedTemporaryFile(suffix=".json", dir=target.var_dir, delete=False) as out:
        path = Path(out.name)
    result = subprocess.run(
        [sys.executable, "-m", "bench.seed", "--users", str(count), "--out", str(path),
         "--prefix", f"{prefix}-{int(time.time() * 1000) % 10**8}"],
        cwd=BASE_DIR, env=target.child_environment(), capture_output=True, text=True,
        timeout=SEED_TIMEOUT)
    if result.returncode != 0:
        raise RuntimeError(f"seeding failed (rc={result.returncode}):\n{result.stderr[-4000:]}")
    rows = json.loads(path.read_text())
    path.unlink(missing_ok=True)
    print(f"seeded {len(rows)} users in {time.monotonic() - started:.1f}s", flush=True)
    return [BenchUser(user_id=row["user_id"], token=row["token"], selfie_id=row["selfie_id"])
            for row in rows]


def _terminate_as_interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}")


def run(name: str, args, *, env: dict[str, str] | None = None, knobs: dict | None = None,
        body) -> int:
    """Start the target, run `body(target, sampler)` (a coroutine function), always clean up.

    SIGTERM is turned into KeyboardInterrupt, so Ctrl-C and a kill both reach the `finally`
    that stops every process the target started.
    """
    signal.signal(signal.SIGTERM, _terminate_as_interrupt)
    raise_nofile_limit()  # before the target starts: its processes inherit the limit
    started = time.monotonic()
    target = Target(args.target, env=env, provider_knobs=knobs, label=name)
    sampler: ProcessSampler | None = None
    failed = True
    # Before the app starts, so the box's own speed is timed, not the app's load on it.
    speed = yardstick()
    print(f"{name}: yardstick {speed['yardstick_ms']} ms on this machine (fixed pure-Python "
          f"work on one core; BENCHMARKS.md compares runs by it)", flush=True)
    try:
        print(f"{name}: starting the {args.target} target …", flush=True)
        target.start()
        print(f"{name}: {target.url} ready in {target.started_in:.1f}s "
              f"(state in {target.var_dir})", flush=True)
        if knobs:
            try:  # also live, in case the launcher does not pass LOCAL_PROVIDER_* through
                target.provider_control(**knobs)
            except OSError as error:
                print(f"{name}: could not set provider knobs via /_control: {error}", flush=True)
        sampler = ProcessSampler(target).start()
        asyncio.run(body(target, sampler))
        failed = False
    except KeyboardInterrupt:
        failed = False  # nothing to look into
        print(f"\n{name}: interrupted; stopping the app", flush=True)
        return 130
    except Exception:
        print(f"\n{name}: failed; the app's last log lines:\n{target.log_tail(3000)}", flush=True)
        raise
    finally:
        if sampler is not None:
            sampler.stop()
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip the cleanup
        stopping = time.monotonic()
        try:
            target.stop()
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        print(f"{name}: app stopped in {time.monotonic() - stopping:.1f}s", flush=True)
        target.cleanup(keep=failed)
        print(f"{name}: done in {time.monotonic() - started:.0f}s", flush=True)
    return 0
