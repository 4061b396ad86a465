"""The spike benchmark still runs end to end: a tiny spike against `make run`'s processes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from launcher.embedded import BASE_DIR

pytestmark = pytest.mark.slow


def test_tiny_spike_runs_and_writes_its_results(tmp_path):
    """A 20-submit spike from 3 users over 2 s finishes and writes its JSON and plot."""
    log = tmp_path / "spike.log"
    with open(log, "wb") as out:
        bench = subprocess.Popen(
            [sys.executable, "-m", "bench", "spike", "--target", "run", "--users", "3",
             "--submits", "20", "--seconds", "2", "--tail", "2", "--status-rate", "5",
             "--results-dir", str(tmp_path)],
            cwd=BASE_DIR, stdout=out, stderr=subprocess.STDOUT)
        try:
            returncode = bench.wait(timeout=220)
        except subprocess.TimeoutExpired:
            # SIGTERM, not SIGKILL: the benchmark then stops the app it started.
            bench.send_signal(signal.SIGTERM)
            bench.wait(timeout=60)
            pytest.fail(f"the tiny spike did not finish in time:\n{log.read_text()[-3000:]}")
    assert returncode == 0, log.read_text()[-3000:]
    [json_path] = tmp_path.glob("spike-*.json")
    data = json.loads(json_path.read_text())
    assert data["submit"]["requests"] == 20
    assert data["sockets"]["users"] == 3
    assert "web" in data["processes"]
    assert data["machine"]["yardstick_ms"] > 0  # how fast the box was, to compare runs by
    assert "yardstick" in log.read_text()
    assert list(tmp_path.glob("spike-*.png"))
