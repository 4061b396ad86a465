"""The web server as `make run` starts it (launcher.web): what reaches Django, and its own refusals."""

from __future__ import annotations

import asyncio
import json
import socket

import aiohttp
import httpx
import pytest

from project.testing.live_app import LiveApp

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(scope="module")
def live_app(django_db_setup):
    app = LiveApp()
    yield app
    app.stop()


def raw_request(port: int, request: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("body", [b"--b--\r\n", b"garbage", b"--b\r\nContent-Disposition: x\r\n"])
def test_a_malformed_multipart_body_reaches_the_app(live_app, body):
    """The server hands bodies to Django unparsed: the app answers in its own error shape."""
    response = httpx.post(f"{live_app.url}/api/v1/selfies/", content=body, timeout=10,
                          headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert response.status_code == 401, response.content
    assert set(response.json()) == {"message", "extra"}


def test_a_body_over_the_limit_is_refused_before_it_is_read(live_app):
    """A declared 50 MB body is answered 413 at once, in the API's error shape."""
    reply = raw_request(live_app.port, b"POST /api/v1/selfies/ HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                       b"Content-Type: image/jpeg\r\n"
                                       b"Content-Length: 52428800\r\n\r\n" + b"x" * 1024)
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413") and b"application/json" in head
    assert json.loads(body)["message"] == "The request body is too large."


def test_an_unknown_websocket_path_is_refused_with_403(live_app):
    async def connect():
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(f"{live_app.url.replace('http', 'ws')}/ws/nope/")
            return refused.value.status
    assert asyncio.run(connect()) == 403
