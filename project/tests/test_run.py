"""`make run`'s launcher: everything starts, /readyz goes green, and it all stops together."""

import os
import signal
import subprocess
import sys
import tempfile
import time

import httpx
import psutil
import pytest

from project.embedded import BASE_DIR, free_port_block

pytestmark = pytest.mark.slow


@pytest.fixture
def launcher():
    port = free_port_block(8)
    var = tempfile.mkdtemp(prefix="surge-run-")
    env = {key: value for key, value in os.environ.items()
           if key not in ("REDIS_URL", "S3_ENDPOINT_URL", "DATABASE_URL", "SURGE_REDIS_PREFIX",
                          "DJANGO_SETTINGS_MODULE", "PYTEST_CURRENT_TEST")}
    env.update(PORT=str(port), SURGE_VAR_DIR=var, DEMO="1", PYTHONUNBUFFERED="1")
    log_path = os.path.join(var, "run.log")
    log = open(log_path, "wb")  # noqa: SIM115
    process = subprocess.Popen([sys.executable, "-m", "project.run"], cwd=BASE_DIR, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    yield process, f"http://127.0.0.1:{port}", log_path
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    log.close()


def wait_ready(url, process, log_path, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, open(log_path).read()[-3000:]
        try:
            response = httpx.get(f"{url}/readyz", timeout=2)
            if response.status_code == 200:
                return response.json()
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError(open(log_path).read()[-3000:])


def test_make_run_serves_the_app_and_stops_cleanly_on_sigterm(launcher):
    process, url, log_path = launcher
    assert wait_ready(url, process, log_path) == {
        "status": "ok", "database": "ok", "redis": "ok", "s3": "ok"}
    assert httpx.get(f"{url}/", timeout=5).status_code == 200
    time.sleep(2)  # let the worker, dispatcher and provider finish starting
    output = open(log_path).read()
    assert "Surge is running at" in output
    assert "demo@surge.local" in output
    for name in ("redis", "s3", "web", "worker", "dispatcher", "provider"):
        assert f"{name} started" in output, output[-3000:]
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) in (0, 143, -15)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/healthz", timeout=1)


def test_a_dying_child_stops_everything_loudly(launcher):
    process, url, log_path = launcher
    wait_ready(url, process, log_path)
    time.sleep(2)
    # Found below our launcher, never by name on the machine: others run Surge here too.
    found = [proc for proc in psutil.Process(process.pid).children(recursive=True)
             if proc.cmdline()[1:4] == ["-m", "local_provider", "--port"]]
    provider = [proc for proc in found if proc.ppid() not in {other.pid for other in found}]
    assert provider, "local provider process not found"
    provider[0].kill()
    assert process.wait(timeout=30) != 0
    assert "exited unexpectedly" in open(log_path).read()


def test_the_worker_stops_promptly_when_its_group_is_signalled():
    """A supervisor's group SIGTERM used to leave django-q2's qcluster hanging forever."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    wrapper = subprocess.Popen(
        [sys.executable, "-c", "import sys; from project.serve import run_qcluster; "
                               "sys.exit(run_qcluster())"],
        cwd=BASE_DIR, env=env, start_new_session=True, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while len(psutil.Process(wrapper.pid).children(recursive=True)) < 4:
        assert time.monotonic() < deadline, "qcluster did not start"
        time.sleep(0.2)
    time.sleep(2)
    tree = [psutil.Process(wrapper.pid), *psutil.Process(wrapper.pid).children(recursive=True)]
    started = time.monotonic()
    os.killpg(wrapper.pid, signal.SIGTERM)
    wrapper.stdout.read()  # EOF once every process holding the log pipe is gone
    assert time.monotonic() - started < 12
    _, alive = psutil.wait_procs(tree, timeout=5)
    assert not alive
