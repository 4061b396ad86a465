"""Error classification of real HTTP responses from a local server (no httpx mocks)."""

from __future__ import annotations

import time
from email.utils import formatdate

import pytest

from providers.backends.wavespeed import WaveSpeedBackend
from providers.exceptions import PermanentError, RateLimited, TransientError
from providers.http import ApiRequest, ProviderHttp, parse_retry_after
from providers.tests.support import free_port, load_fixture


def client(url: str, *, read: float = 5.0, classify_error=None) -> ProviderHttp:
    return ProviderHttp(provider="p", base_url=url, classify_error=classify_error,
                        timeouts={"connect": 2, "read": read, "write": 5, "pool": 2},
                        headers={"Authorization": "Bearer k"})


GET = ApiRequest("GET", "/thing")


def test_success_returns_json_and_sends_user_agent(server):
    server.reply(200, {"ok": True})
    response = client(server.url).send(GET)
    assert response.data == {"ok": True}
    assert server.last.headers["user-agent"].startswith("Surge/")
    assert server.last.headers["authorization"] == "Bearer k"


def test_429_with_retry_after_seconds(server):
    server.reply(429, {"detail": "slow down"}, headers={"Retry-After": "7"})
    with pytest.raises(RateLimited) as caught:
        client(server.url).send(GET)
    assert caught.value.retry_after == 7.0 and caught.value.status_code == 429


def test_429_with_retry_after_http_date(server):
    server.reply(429, {}, headers={"Retry-After": formatdate(time.time() + 60, usegmt=True)})
    with pytest.raises(RateLimited) as caught:
        client(server.url).send(GET)
    assert 55 <= caught.value.retry_after <= 61


def test_429_replicate_detail_gives_retry_after(server):
    server.reply(429, load_fixture("replicate", "throttled_429"))
    with pytest.raises(RateLimited) as caught:
        client(server.url).send(GET)
    assert caught.value.retry_after == 30.0


def test_429_without_any_hint(server):
    server.reply(429, {"detail": "Too many requests"})
    with pytest.raises(RateLimited) as caught:
        client(server.url).send(GET)
    assert caught.value.retry_after is None


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_server_errors_are_transient(server, status):
    server.reply(status, {"detail": "boom"})
    with pytest.raises(TransientError) as caught:
        client(server.url).send(GET)
    assert caught.value.status_code == status


@pytest.mark.parametrize("status,code", [(400, "bad_request"), (422, "bad_request"),
                                         (404, "not_found"), (401, "auth"), (403, "auth"),
                                         (402, "http_402"), (413, "http_413")])
def test_client_errors_are_permanent(server, status, code):
    server.reply(status, {"detail": "nope"})
    with pytest.raises(PermanentError) as caught:
        client(server.url).send(GET)
    assert caught.value.code == code and caught.value.user_message


def test_auth_error_says_what_to_fix(server):
    server.reply(401, {"detail": "Invalid token."})
    with pytest.raises(PermanentError, match="API_KEY"):
        client(server.url).send(GET)


def test_redirects_are_not_followed(server):
    server.reply(302, b"", headers={"Location": "http://127.0.0.1:9/elsewhere"})
    with pytest.raises(PermanentError):
        client(server.url).send(GET)
    assert len(server.requests) == 1


def test_read_timeout_is_transient_and_maybe_processed(server):
    server.reply(200, {"late": True}, delay=5.0)
    started = time.monotonic()
    with pytest.raises(TransientError) as caught:
        client(server.url, read=0.2).send(GET)
    assert caught.value.maybe_processed
    assert time.monotonic() - started < 4  # gave up long before the reply, even on a busy box


def test_connection_refused_is_transient_and_not_processed():
    with pytest.raises(TransientError) as caught:
        client(f"http://127.0.0.1:{free_port()}").send(GET)
    assert not caught.value.maybe_processed


def test_non_json_success_is_transient(server):
    server.reply(200, "<html>gateway</html>")
    with pytest.raises(TransientError):
        client(server.url).send(GET)


@pytest.mark.parametrize("fixture,error,code", [
    ("error_1200_moderation", PermanentError, "moderation"),
    ("error_1402_media", PermanentError, "media_unreachable"),
    ("error_5003", TransientError, None),
])
@pytest.mark.parametrize("http_status", [200, 400, 500])
def test_wavespeed_envelope_codes(server, fixture, error, code, http_status):
    """WaveSpeed's envelope code decides, whatever the HTTP status (WaveSpeed backend)."""
    server.reply(http_status, load_fixture("wavespeed", fixture))
    backend = WaveSpeedBackend("ws", {"BASE_URL": server.url, "API_KEY": "k"})
    with pytest.raises(error) as caught:
        backend.fetch_status("abc")
    if code:
        assert caught.value.code == code


@pytest.mark.parametrize("code,expected", [(1400, PermanentError), (1401, PermanentError),
                                           (1403, PermanentError), (1405, PermanentError),
                                           (5000, TransientError), (5004, TransientError)])
def test_wavespeed_code_table(server, code, expected):
    server.reply(400 if code < 5000 else 500, {"code": code, "message": "x", "data": None})
    with pytest.raises(expected, match=f"code {code}: x"):
        WaveSpeedBackend("ws", {"BASE_URL": server.url}).fetch_status("abc")


def test_backend_hook_classifies_before_the_http_status(server):
    """A backend's classify_error decides first; None leaves the HTTP status to decide."""
    seen = []

    def classify_error(response):
        seen.append((response.status_code, response.data))
        if response.data.get("kind") == "busy":
            return TransientError("vendor says busy", provider="p")
        return None

    server.reply(400, {"kind": "busy"})
    with pytest.raises(TransientError, match="vendor says busy"):
        client(server.url, classify_error=classify_error).send(GET)
    server.reply(400, {"kind": "other"})
    with pytest.raises(PermanentError) as caught:
        client(server.url, classify_error=classify_error).send(GET)
    assert caught.value.code == "bad_request"
    assert seen == [(400, {"kind": "busy"}), (400, {"kind": "other"})]


def test_429_is_rate_limited_before_the_backend_hook(server):
    """Throttling is handled alike for every vendor: the hook never sees a 429."""
    server.reply(429, {"code": 5003}, headers={"Retry-After": "2"})
    with pytest.raises(RateLimited):
        WaveSpeedBackend("ws", {"BASE_URL": server.url}).fetch_status("abc")


def test_plain_http_errors_ignore_wavespeed_codes(server):
    """Without a vendor hook, a body `code` means nothing: the HTTP status decides."""
    server.reply(400, {"code": 5003, "message": "x"})
    with pytest.raises(PermanentError):
        client(server.url).send(GET)


def test_parse_retry_after_edge_cases():
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-3") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0
