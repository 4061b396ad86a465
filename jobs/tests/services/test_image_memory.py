"""Big pixels cost bounded memory: measured peaks, and the per-process decode budget."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

from common.exceptions import ApplicationError
from jobs.services import images
from jobs.services.images import DecodeBudget
from jobs.tests.images import image_bytes, png_header_only
from launcher.embedded import BASE_DIR

MB = 1024 * 1024

# Runs in a fresh process: decodes `threads` copies of one worst-case image at once and prints
# the peak resident memory above what the process held before (VmHWM, reset just before).
MEASURE = """
import json, os, sys, threading
import django
django.setup()
from jobs.services.images import image_process
from jobs.tests.images import worst_case

def resident_mb(field):
    with open("/proc/self/status") as status:
        line = next(line for line in status if line.startswith(field))
    return int(line.split()[1]) / 1024

data = worst_case(sys.argv[1])
before = resident_mb("VmRSS:")
with open("/proc/self/clear_refs", "w") as refs:
    refs.write("5")  # resets VmHWM to the current resident size
errors = []

def process():
    try:
        image_process(data=data)
    except Exception as error:
        errors.append(repr(error))

threads = [threading.Thread(target=process) for _ in range(int(sys.argv[2]))]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(json.dumps({"peak_mb": resident_mb("VmHWM:") - before, "errors": errors}))
"""


def peak_mb(case: str, *, threads: int, budget_mb: int = 256) -> float:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings",
           "SELFIE_DECODE_MEMORY_MB": str(budget_mb)}
    result = subprocess.run([sys.executable, "-c", MEASURE, case, str(threads)], cwd=BASE_DIR,
                            env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    measured = json.loads(result.stdout.strip().splitlines()[-1])
    assert measured["errors"] == []
    return measured["peak_mb"]


@pytest.mark.slow
@pytest.mark.parametrize(("case", "limit_mb"), [
    ("png-rgba", 260),  # was 793 MB: decoded in full, then copied four times
    ("png-palette", 160),
    ("png-16bit-grey", 160),
    ("jpeg-progressive", 200),  # was 476 MB
    ("webp-16mp", 380),
])
def test_one_worst_case_image_peaks_within_its_limit(case, limit_mb):
    assert peak_mb(case, threads=1) < limit_mb


@pytest.mark.slow
def test_four_concurrent_worst_case_decodes_share_one_budget():
    """Four 39.7 MP PNGs at once in one process: one at a time within 256 MB (was 3.2 GB)."""
    assert peak_mb("png-rgba", threads=4) < 300


def test_each_decode_reserves_its_estimated_peak():
    """A phone photo reserves little, a 35 MP RGB header (nothing decoded yet) a lot."""
    phone = images._open(image_bytes("JPEG", size=(4032, 3024)))
    assert 40 * MB < images.decode_cost(phone) < 160 * MB
    assert images.decode_cost(images._open(png_header_only(7000, 5000))) > 140 * MB


def wait_until(condition, timeout: float = 60.0) -> None:
    """Wait for a condition another thread makes true (no fixed sleeps)."""
    done = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        done.wait(0.01)
    raise AssertionError("condition not met")


def test_decodes_beyond_the_budget_wait_their_turn_in_order(settings):
    settings.SELFIE_DECODE_MEMORY_MB = 100
    budget, entered = DecodeBudget(), []

    def decode(name: str, nbytes: int):
        with budget.reserve(nbytes):
            entered.append(name)

    with budget.reserve(80 * MB):
        big = threading.Thread(target=decode, args=("big", 60 * MB))
        big.start()
        wait_until(lambda: budget.waiting == 1)
        small = threading.Thread(target=decode, args=("small", 10 * MB))
        small.start()  # would fit now, but waits behind the big one: first come, first served
        wait_until(lambda: budget.waiting == 2)
        assert entered == []
    big.join(timeout=60)
    small.join(timeout=60)
    assert entered == ["big", "small"]


def test_an_image_larger_than_the_budget_runs_alone(settings):
    settings.SELFIE_DECODE_MEMORY_MB = 100
    budget = DecodeBudget()
    with budget.reserve(500 * MB):
        pass


def test_a_decode_that_cannot_get_memory_in_time_is_503_with_retry_after(settings,
                                                                          monkeypatch):
    settings.SELFIE_DECODE_MEMORY_MB = 100
    monkeypatch.setattr(images, "DECODE_WAIT_SECONDS", 0.05)
    budget = DecodeBudget()
    with budget.reserve(90 * MB):
        with pytest.raises(ApplicationError) as refused:
            with budget.reserve(20 * MB):
                pass
    assert refused.value.status_code == 503 and refused.value.headers["Retry-After"]
    assert budget.waiting == 0
    with budget.reserve(100 * MB):  # nothing leaked
        pass
