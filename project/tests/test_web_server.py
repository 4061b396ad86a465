"""Daphne as `make run` starts it (project.web): what reaches Django, and its own refusals."""

from __future__ import annotations

import asyncio
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
    """Twisted used to answer these with a bare 400 (no body, no content type) by itself."""
    response = httpx.post(f"{live_app.url}/api/v1/selfies/", content=body, timeout=10,
                          headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert response.status_code == 401, response.content
    assert set(response.json()) == {"message", "extra"}


def test_daphnes_own_refusals_are_json(live_app):
    reply = raw_request(live_app.port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                       b"X-Bad: a\x0bb\r\nConnection: close\r\n\r\n")
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"application/json" in head
    assert b'{"message": "Invalid header value", "extra": {}}' in body


def test_an_unknown_websocket_path_is_refused_with_403(live_app):
    async def connect():
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(f"{live_app.url.replace('http', 'ws')}/ws/nope/")
            return refused.value.status
    assert asyncio.run(connect()) == 403
