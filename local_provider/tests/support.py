"""Test support: the provider as a real subprocess, a webhook listener, polling helpers."""

import os
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from project.testing.processes import stop_tree

REPO = Path(__file__).resolve().parents[2]
SELFIE = REPO / "static" / "samples" / "selfie-astronaut.jpg"
API_KEY = "local-dev-key"
BEARER = {"Authorization": f"Bearer {API_KEY}"}
FAL_KEY = {"Authorization": f"Key {API_KEY}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.02):
    """Poll predicate until it returns something truthy; fail the test on timeout (generous:
    it only runs out when something is broken, and the machine may be busy)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s")
        time.sleep(interval)


class Provider:
    """A running `python -m local_provider` and an HTTP client bound to it."""

    def __init__(self, state_dir: Path, *args: str, env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = state_dir / "provider.log"
        cmd = [sys.executable, "-m", "local_provider", "--port", str(self.port), "--state-dir", str(state_dir), *args]
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, cwd=REPO, stdout=self.log, stderr=subprocess.STDOUT,
                                     env={**os.environ, **(env or {})})
        self.http = httpx.Client(base_url=self.url, timeout=10)
        try:
            wait_until(self._healthy, timeout=20, interval=0.05)
        except BaseException:
            self.stop()  # no fixture will: the caller never got this object
            raise

    def _healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"provider exited: {self.log_path.read_text()}")
        try:
            return self.http.get("/_health").json() == {"status": "ok"}
        except httpx.TransportError:
            return False

    def control(self, **changes) -> dict:
        response = self.http.post("/_control", json=changes)
        assert response.status_code == 200, response.text
        return response.json()

    def state(self) -> dict:
        return self.http.get("/_control").json()

    def counters(self, dialect: str | None = None) -> dict:
        counters = self.state()["counters"]
        return counters["by_dialect"][dialect] if dialect else counters

    def idle(self) -> bool:
        counters = self.counters()
        return counters["in_flight"] == 0 and counters["queued"] == 0

    def stop(self) -> None:
        self.http.close()
        try:
            stop_tree(self.proc)  # its render pool's processes too
        finally:
            self.log.close()


class Recorder(ThreadingHTTPServer):
    daemon_threads = True


class Listener:
    """Records every webhook POST; answers with queued (status, headers) replies, then 200."""

    def __init__(self):
        self.received: list[dict] = []
        self.replies: list[tuple[int, dict]] = []
        self._lock = threading.Lock()
        listener = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with listener._lock:
                    listener.received.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                              "at": time.monotonic()})
                    status, headers = listener.replies.pop(0) if listener.replies else (200, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = Recorder(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def wait_for(self, count: int, timeout: float = 30.0) -> list[dict]:
        wait_until(lambda: len(self.received) >= count, timeout=timeout)
        return self.received

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
