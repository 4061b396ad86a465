"""`make run`'s launcher: everything starts, /readyz goes green, and it all stops together."""

import io
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime

import httpx
import psutil
import pytest
from honcho.printer import Message

from launcher.embedded import BASE_DIR, ephemeral_port_range, free_port_block
from launcher.run import ExitRecordingPrinter, build_environment
from project.testing.processes import descendants, still_running, stop_tree

# Generous: they only run out when something is broken, and the machine may be busy.
STOP_SECONDS = 60
STARTED = [re.compile(pattern) for pattern in (
    r"Q Cluster \S+ .*running\.", r"dispatcher running", r"copier running",
    r"local_provider listening")]
QCLUSTER_STARTED = [re.compile(pattern) for pattern in (rb"Q Cluster \S+ .*running\.",
                                                        rb"pushing tasks")]


def test_the_process_that_stopped_first_is_the_one_named():
    """The first "<name> stopped" line of honcho's manager names the process that failed."""
    printer = ExitRecordingPrinter(io.StringIO())
    for data in ("web started (pid=10)\n", "provider stopped (rc=-9)\n",
                 "sending SIGTERM to web (pid 10)\n", "web stopped (rc=-15)\n"):
        printer.write(Message("line", data, datetime.now(), "system", None))
    printer.write(Message("line", "worker stopped (rc=1)\n", datetime.now(), "web", None))
    assert printer.exits == [("provider", -9), ("web", -15)]
    assert printer.first_exit() == "provider"


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
    process = subprocess.Popen([sys.executable, "-m", "launcher.run"], cwd=BASE_DIR, env=env,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    yield process, f"http://127.0.0.1:{port}", log_path
    # honcho's children run in sessions of their own: a group kill would miss them.
    stop_tree(process, timeout=STOP_SECONDS)
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


def wait_started(process, log_path, timeout=120):
    """Until the worker, the dispatcher and the provider have finished starting."""
    deadline = time.monotonic() + timeout
    while True:
        output = open(log_path).read()
        if all(pattern.search(output) for pattern in STARTED):
            return
        assert process.poll() is None and time.monotonic() < deadline, output[-3000:]
        time.sleep(0.2)


def local_provider_of(process) -> psutil.Process:
    """The launcher's own local provider (other checkouts on this machine run theirs)."""
    for child in descendants(process):
        try:
            argv = child.cmdline()
        except psutil.NoSuchProcess:
            continue
        if argv[1:3] == ["-m", "local_provider"] and "--port" in argv:
            return child
    raise AssertionError("the launcher started no local provider")


def _argv(child: psutil.Process) -> list[str]:
    """Its command line, or none if it has already gone (honcho's helpers come and go)."""
    try:
        return child.cmdline()
    except psutil.NoSuchProcess:
        return []


def _web_workers(process) -> list[psutil.Process]:
    servers = [child for child in descendants(process)
               if _argv(child)[1:3] == ["-m", "launcher.web"]]
    return [worker for server in servers for worker in server.children()
            if "spawn_main" in " ".join(_argv(worker))]


def _on_port(worker: psutil.Process, port: int, status: str) -> int:
    try:
        return sum(1 for connection in worker.net_connections(kind="tcp")
                   if connection.status == status and connection.laddr.port == port)
    except psutil.NoSuchProcess:
        return 0


def connections_per_web_process(process, port: int, *, burst: int) -> list[int]:
    """Once every web server process listens (the second may still be starting when the first
    answers), open `burst` connections at once, send a request on each, and count how many
    each process holds."""
    deadline = time.monotonic() + 60
    while not (len(workers := _web_workers(process)) >= 2
               and all(_on_port(worker, port, psutil.CONN_LISTEN) for worker in workers)):
        assert time.monotonic() < deadline, "the web processes never all listened"
        time.sleep(0.1)
    sockets = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(burst)]
    try:
        for sock in sockets:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        for sock in sockets:
            assert sock.recv(65536).startswith(b"HTTP/1.1 200")
        return [_on_port(worker, port, psutil.CONN_ESTABLISHED) for worker in workers]
    finally:
        for sock in sockets:
            sock.close()


@pytest.mark.slow
def test_make_run_serves_the_app_and_stops_cleanly_on_sigterm(launcher):
    process, url, log_path = launcher
    assert wait_ready(url, process, log_path) == {
        "status": "ok", "database": "ok", "redis": "ok", "s3": "ok"}
    assert httpx.get(f"{url}/", timeout=5).status_code == 200
    wait_started(process, log_path)
    output = open(log_path).read()
    assert "Surge is running at" in output
    assert "demo@surge.local" in output
    for name in ("redis", "s3", "web", "worker", "dispatcher", "copier", "provider"):
        assert f"{name} started" in output, output[-3000:]
    # Each web process accepts its own share of a burst (one shared socket gave one all of it).
    held = connections_per_web_process(process, int(url.rsplit(":", 1)[1]), burst=32)
    assert len(held) == 2 and sum(held) == 32 and min(held) > 0, held
    tree = descendants(process)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=STOP_SECONDS) in (0, 143, -15)
    assert not (left := still_running(tree, timeout=STOP_SECONDS)), left
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/healthz", timeout=1)


@pytest.mark.slow
def test_a_dying_child_stops_everything_loudly(launcher):
    process, url, log_path = launcher
    wait_ready(url, process, log_path)
    wait_started(process, log_path)
    tree = descendants(process)
    local_provider_of(process).kill()
    assert process.wait(timeout=STOP_SECONDS) != 0
    assert not (left := still_running(tree, timeout=STOP_SECONDS)), left
    assert "process provider exited unexpectedly" in open(log_path).read()


@pytest.mark.slow
def test_the_worker_stops_promptly_when_its_group_is_signalled():
    """A supervisor's group SIGTERM used to leave django-q2's qcluster hanging forever."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    wrapper = subprocess.Popen(
        [sys.executable, "-c", "import sys; from launcher.serve import run_qcluster; "
                               "sys.exit(run_qcluster())"],
        cwd=BASE_DIR, env=env, start_new_session=True, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT)
    try:
        output = b""
        while not all(pattern.search(output) for pattern in QCLUSTER_STARTED):
            line = wrapper.stdout.readline()
            assert line, f"qcluster exited before it started: {output[-3000:]}"
            output += line
        tree = [psutil.Process(wrapper.pid), *descendants(wrapper)]
        started = time.monotonic()
        os.killpg(wrapper.pid, signal.SIGTERM)
        wrapper.stdout.read()  # EOF once every process holding the log pipe is gone
        assert time.monotonic() - started < 12
        assert not still_running(tree, timeout=5)
    finally:
        stop_tree(wrapper)


@pytest.mark.slow
def test_make_run_names_a_taken_port_before_starting_anything(tmp_path):
    """One line naming the port and what needs it; nothing is started."""
    port = free_port_block(8)
    env = {key: value for key, value in os.environ.items()
           if key not in ("REDIS_URL", "S3_ENDPOINT_URL", "DATABASE_URL", "SURGE_REDIS_PREFIX",
                          "DJANGO_SETTINGS_MODULE", "PYTEST_CURRENT_TEST")}
    env.update(PORT=str(port), SURGE_VAR_DIR=str(tmp_path))
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port + 3))
        squatter.listen()
        result = subprocess.run([sys.executable, "-m", "launcher.run"], cwd=BASE_DIR, env=env,
                                capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert f"port {port + 3} is already in use (needed by the local provider (PORT+3))" in \
        result.stderr
    assert "started" not in result.stdout
    env["PORT"] = "60000"
    result = subprocess.run([sys.executable, "-m", "launcher.run"], cwd=BASE_DIR, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and "PORT=60000 is too high" in result.stderr


def test_port_blocks_stay_below_the_ephemeral_range():
    """A free port the kernel may hand to any outgoing connection is not ours to plan on."""
    low, _ = ephemeral_port_range()
    for _ in range(20):
        base = free_port_block(8)
        assert base + 8 + 10000 <= low


def test_children_run_with_two_malloc_arenas_unless_told_otherwise(monkeypatch):
    """Web threads each keeping a glibc arena held hundreds of MB after big uploads."""
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert build_environment()[0]["MALLOC_ARENA_MAX"] == "2"
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert build_environment()[0]["MALLOC_ARENA_MAX"] == "4"
