"""Fixtures for notifications tests: users, jobs created as the API creates them, websockets,
a local push service."""

from __future__ import annotations

import base64
import os
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from accounts.models import User
from accounts.services import token_issue
from jobs.models import Job, Selfie
from jobs.services.jobs import job_enqueue
from notifications.sockets import queue_broadcast

PASSWORD = "neon-Skyline-4821"


@pytest.fixture
def broadcast_worker(monkeypatch):
    """Queue-position passes served as a task worker serves them (these tests run none): each
    on a thread, which wait_for_trailing_broadcasts waits for."""
    def enqueue(task, *args, name=None):
        assert task == queue_broadcast.BROADCAST_TASK, task
        queue_broadcast._schedule(0, queue_broadcast.queue_broadcast_task)

    monkeypatch.setattr(queue_broadcast, "enqueue", enqueue)


@pytest.fixture
def user(db):
    return User.objects.create_user("ada@example.com", PASSWORD)


@pytest.fixture
def other_user(db):
    return User.objects.create_user("bob@example.com", PASSWORD)


@pytest.fixture
def token(user):
    return token_issue(user=user)


def make_job(user, *, style: str = "cyberpunk-hero", width: int = 512, height: int = 640) -> Job:
    """A queued job with its first event, committed the way job_create commits it."""
    selfie = Selfie.objects.create(user=user, image=f"selfies/{user.pk}.jpg",
                                   thumbnail=f"selfies/{user.pk}-thumb.jpg", width=width,
                                   height=height)
    return job_enqueue(user=user, selfie=selfie, style=style)


@pytest.fixture
def job_factory():
    return make_job


class PushService:
    """A push service on 127.0.0.1 that answers every request with `status` (and `headers`)."""

    def __init__(self, status: int, headers: dict[str, str] | None = None):
        received = self.received = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.port = self.server.server_port
        self.host = f"127.0.0.1:{self.port}"
        self.endpoint = f"http://{self.host}/push/{os.urandom(4).hex()}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def browser_keys() -> tuple[str, str]:
    key = ec.generate_private_key(ec.SECP256R1()).public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    encode = lambda raw: base64.urlsafe_b64encode(raw).rstrip(b"=").decode()  # noqa: E731
    return encode(key), encode(os.urandom(16))
