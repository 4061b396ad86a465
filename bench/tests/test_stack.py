"""`make stack`: nginx in front of web and socket processes on PostgreSQL, Redis and S3."""

from __future__ import annotations

import asyncio
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import httpx
import psutil
import pytest

from launcher.embedded import BASE_DIR, first_taken_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

# The test session's own servers and settings: the stack starts and configures its own.
NOT_PASSED_ON = ("REDIS_URL", "S3_ENDPOINT_URL", "DATABASE_URL", "SURGE_REDIS_PREFIX",
                 "SURGE_VAR_DIR", "PORT", "DJANGO_SETTINGS_MODULE", "PYTEST_CURRENT_TEST",
                 "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "S3_BUCKET")


@dataclass
class Stack:
    process: subprocess.Popen
    port: int
    log_path: Path
    seen: set[psutil.Process] = field(default_factory=set)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-8000:]

    def tree(self) -> list[psutil.Process]:
        """The launcher and every process below it (remembered, so teardown can reap them)."""
        launcher = psutil.Process(self.process.pid)
        found = [launcher, *launcher.children(recursive=True)]
        self.seen.update(found)
        return found


def stack_port_block(size: int = 12) -> int:
    """A base port whose `size` ports and their +10000 twins (SeaweedFS's gRPC) are free, all
    below the ephemeral range: there, any outgoing connection on the machine may take one of
    them between our check and the server's bind (seen on a busy box)."""
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    for _ in range(200):
        base = random.randrange(10000, low - 10000 - size)
        if first_taken_port([(base + offset + twin, "") for offset in range(size)
                             for twin in (0, 10000)]) is None:
            return base
    raise RuntimeError("no free block of ports below the ephemeral range")


@pytest.fixture
def stack():
    port = stack_port_block()  # nginx … socket.1 at +11
    home = Path(tempfile.mkdtemp(prefix="surge-stack-"))
    home.chmod(0o711)  # PostgreSQL and nginx's workers run as other users and pass through
    env = {key: value for key, value in os.environ.items() if key not in NOT_PASSED_ON}
    env.update(SURGE_VAR_DIR=str(home / "stack"), PYTHONUNBUFFERED="1")
    log_path = home / "stack.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.stack", "--port", str(port), "--web", "1",
             "--sockets", "1"],
            cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    launched = Stack(process=process, port=port, log_path=log_path)
    try:
        yield launched
    finally:
        # Whatever happened, nothing of this stack outlives the test: collect the whole tree
        # first, then kill it.
        if process.poll() is None:
            launched.tree()
        for proc in launched.seen:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(list(launched.seen), timeout=10)
        process.wait(timeout=10)
        shutil.rmtree(home, ignore_errors=True)


def wait_for_banner(stack: Stack, timeout: float = 300) -> None:
    banner = f"Surge stack is running at {stack.url}/"
    deadline = time.monotonic() + timeout
    while banner not in stack.log():
        assert stack.process.poll() is None, stack.log()
        assert time.monotonic() < deadline, stack.log()
        time.sleep(0.5)


async def first_message(url: str) -> dict:
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as socket:
        message = await socket.receive(timeout=15)
        assert message.type == aiohttp.WSMsgType.TEXT, message
        return json.loads(message.data)


def test_the_stack_serves_api_and_sockets_through_nginx_and_stops_everything(stack):
    """Through nginx a user signs up and gets a live snapshot; SIGTERM leaves no process."""
    wait_for_banner(stack)
    ready = httpx.get(f"{stack.url}/readyz", timeout=5)
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "database": "ok", "redis": "ok", "s3": "ok"}
    assert ready.headers["server"] == "nginx"

    signup = httpx.post(f"{stack.url}/api/v1/auth/signup/", timeout=10,
                        json={"email": "stack@example.com", "password": "a-long-stack-pass-2026"})
    assert signup.status_code == 201, signup.text
    token = signup.json()["token"]
    snapshot = asyncio.run(first_message(
        f"ws://127.0.0.1:{stack.port}/ws/jobs/?token={token}"))
    assert snapshot == {"type": "snapshot", "jobs": [], "unread_count": 0}

    tree = stack.tree()
    names = {proc.name() for proc in tree}
    assert {"nginx", "postgres", "redis-server", "weed"} <= names, names
    stack.process.send_signal(signal.SIGTERM)
    assert stack.process.wait(timeout=120) == 0, stack.log()
    _, alive = psutil.wait_procs(tree, timeout=10)
    assert not alive, [(proc.pid, proc.cmdline()) for proc in alive]
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{stack.url}/healthz", timeout=1)
