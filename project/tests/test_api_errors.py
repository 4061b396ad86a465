"""Refusals outside the DRF views keep the error shape: unknown API URLs, webhooks, sockets."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from project.asgi import application
from project.testing.websocket import Communicator

pytestmark = pytest.mark.django_db


def assert_json_error(response, status: int) -> dict:
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert set(body) == {"message", "extra"}
    return body


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize(("method", "path"), [
    ("get", "/api/v1/nope/"), ("get", "/api/v1/jobs//events/"),
    ("post", "/api/v1/notifications/null,null/read/"), ("post", "/api/v1/jobs"),
    ("get", "/api/v2/jobs/"),
])
def test_unknown_api_urls_are_json_404s(settings, debug, method, path):
    """Even in DEBUG (no HTML 404 page, no APPEND_SLASH RuntimeError for a POST), and for a
    POST without a CSRF token (no HTML 403)."""
    settings.DEBUG = debug
    client = Client(enforce_csrf_checks=True)
    body = assert_json_error(getattr(client, method)(path), 404)
    if not path.endswith("/"):
        assert "slash" in body["message"]


def test_webhook_get_is_a_json_405(client):
    response = client.get("/webhooks/local/")
    assert_json_error(response, 405)
    assert response["Allow"] == "POST"


@pytest.mark.parametrize("path", ["/ws/nope/", "/ws/", "/ws/jobs/a/b/", "/api/v1/me/"])
def test_unknown_websocket_paths_are_refused_not_crashed(path):
    """No route is a refused handshake (403), not an exception in the server (500)."""
    async def body():
        comm = Communicator(application, path)
        connected, _ = await comm.connect()
        assert not connected
    async_to_sync(body)()
