"""The benchmark's pure helpers: the stack's env file, process roles, percentiles, peaks, CPU."""

from __future__ import annotations

import psutil

from bench.ceiling import phase_cpu
from bench.load import parse_time
from bench.metrics import Sample, mean_cpu_between, role_of
from bench.report import machine, percentile, thin
from bench.target import clean_environment, parse_env_file
from bench.uploads import memory_after, memory_before


def test_stack_env_file_is_read_as_key_value_lines():
    """Comments, blank lines, `export` and quotes are tolerated; values keep their `=`."""
    text = ("# written by bench.stack\n\nDATABASE_URL=postgres://u:p@127.0.0.1:5432/surge?x=1\n"
            "export REDIS_URL='redis://127.0.0.1:6380/0'\nS3_ENDPOINT_URL=\"http://127.0.0.1:9\"\n"
            "EMPTY=\n")
    assert parse_env_file(text) == {
        "DATABASE_URL": "postgres://u:p@127.0.0.1:5432/surge?x=1",
        "REDIS_URL": "redis://127.0.0.1:6380/0",
        "S3_ENDPOINT_URL": "http://127.0.0.1:9",
        "EMPTY": "",
    }


def test_roles_come_from_command_lines():
    """Each process of make run and of a production stack gets its role; others get none."""
    assert role_of(["python", "-m", "launcher.web", "-b", "127.0.0.1"]) == "web"
    assert role_of(["/bin/sh", "-c", "python -m launcher.serve web --bind 127.0.0.1"]) == "web"
    assert role_of(["gunicorn", "project.asgi:application", "-k",
                    "uvicorn.workers.UvicornWorker"]) == "web"
    assert role_of(["python", "manage.py", "qcluster"]) == "worker"
    assert role_of(["python", "manage.py", "dispatcher"]) == "dispatcher"
    assert role_of(["python", "manage.py", "copier", "--threads", "8"]) == "copier"
    assert role_of(["/bin/sh", "-c", "python -m launcher.serve copier"]) == "copier"
    assert role_of(["python", "-m", "local_provider", "--port", "1"]) == "provider"
    assert role_of(["redis-server", "127.0.0.1:6379"]) == "redis"
    assert role_of(["weed", "mini", "-dir=/tmp/s3"]) == "s3"
    assert role_of(["nginx: worker process"]) == "nginx"
    assert role_of(["postgres: surge surge 127.0.0.1 idle"]) == "postgres"
    assert role_of(["python", "-m", "launcher.run"]) == "launcher"
    assert role_of(["python", "-c", "from multiprocessing.spawn import spawn_main"]) is None


def test_percentiles_are_nearest_rank():
    """p50 of 1..100 is 50, p99 is 99, p100 the max; nothing in, nothing out."""
    values = list(range(100, 0, -1))
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile(values, 100) == 100
    assert percentile([], 99) is None


def _sample(t: float, machine_cpu: float, **cpu: float) -> Sample:
    return Sample(t=t, rss={}, max_rss={}, cpu=cpu, processes={}, machine_cpu=machine_cpu)


def test_a_phases_cpu_is_the_mean_of_the_samples_inside_it():
    """Samples before, at and after the phase are left out, and so is the first one inside it
    (its interval began before the phase); a role missing from a sample counts as idle."""
    samples = [_sample(0.5, 90, web=180), _sample(1.0, 99, web=199),  # before, at the start
               _sample(1.5, 10, web=5),  # the first inside: half before the start
               _sample(2.0, 80, web=150, client=10), _sample(2.5, 60, web=110),
               _sample(3.0, 70, web=130, client=20),  # at the end
               _sample(3.5, 1, web=1)]  # after
    cpu = mean_cpu_between(samples, 1.0, 3.0)
    assert cpu == {"machine_pct": 70.0, "roles_pct": {"client": 10.0, "web": 130.0}}
    assert mean_cpu_between(samples, 10.0, 20.0) == {"machine_pct": None, "roles_pct": {}}


def test_a_phases_web_cpu_per_request_is_in_milliseconds():
    """130 % of one core for 260 requests a second: 5 ms of CPU each; none without either."""
    cpu = {"machine_pct": 70.0, "roles_pct": {"web": 130.0}}
    assert phase_cpu(cpu, 260.0)["web_ms_per_ok"] == 5.0
    assert phase_cpu(cpu, 0.0)["web_ms_per_ok"] is None
    assert phase_cpu({"machine_pct": None, "roles_pct": {}}, 260.0)["web_ms_per_ok"] is None


def test_thin_keeps_at_most_the_limit():
    """Every k-th point remains, the first included."""
    assert thin(list(range(10)), 20) == list(range(10))
    assert thin(list(range(10)), 5) == [0, 2, 4, 6, 8]


def test_server_times_are_read_with_their_offset():
    """ISO times with +00:00 or Z are the same instant; anything else is None."""
    assert parse_time("2026-01-01T00:00:00+00:00") == parse_time("2026-01-01T00:00:00Z")
    assert parse_time("not a time") is None
    assert parse_time(None) is None


def test_targets_start_without_the_callers_app_configuration(monkeypatch):
    """A developer's or the test session's REDIS_URL, DATABASE_URL … never reach the target."""
    monkeypatch.setenv("REDIS_URL", "redis://elsewhere:6379/0")
    monkeypatch.setenv("LOCAL_PROVIDER_FAILURE_RATE", "1")
    monkeypatch.setenv("HOME_FOR_TEST", "kept")
    environment = clean_environment()
    assert "REDIS_URL" not in environment
    assert "LOCAL_PROVIDER_FAILURE_RATE" not in environment
    assert environment["HOME_FOR_TEST"] == "kept"


def test_upload_benchmark_reads_exact_peaks_of_a_process():
    """VmHWM is reset to the resident size, then read back as the peak above it."""
    process = psutil.Process()
    before = memory_before([process])
    grown = bytearray(64 * 1024 * 1024)  # touched: resident, not just reserved
    grown[::4096] = b"x" * len(grown[::4096])
    [row] = memory_after(before)
    del grown
    assert row["pid"] == process.pid and row["peak_delta_mb"] >= 60


def test_results_carry_the_machines_speed_measured_once():
    """The yardstick is timed before the app starts; results written later reuse it."""
    first = machine()
    assert 0 < first["yardstick_ms"] <= first["yardstick_median_ms"]
    assert machine()["yardstick_ms"] == first["yardstick_ms"]
