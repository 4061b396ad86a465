"""fal webhooks: Ed25519 over request id, user id, timestamp and body hash, keys from a JWKS."""

from __future__ import annotations

import base64
import hashlib
import threading
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from providers.exceptions import TransientError, WebhookPayloadInvalid, WebhookSignatureInvalid
from providers.tests.support import Reply, fixture_bytes, free_port
from providers.webhooks import jwks
from providers.webhooks.fal import FalWebhook

BODY = fixture_bytes("fal", "webhook_ok")
REQUEST_ID = "764cabcf-b745-4b3e-ae38-1200304cf45b"
JWKS_PATH = "/.well-known/jwks.json"


def jwk(key: Ed25519PrivateKey) -> dict:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "use": "sig",
            "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}


def signed(body: bytes, key: Ed25519PrivateKey, *, timestamp: int | None = None,
           request_id: str = REQUEST_ID, user_id: str = "github|surge") -> dict[str, str]:
    timestamp = int(time.time()) if timestamp is None else timestamp
    message = f"{request_id}\n{user_id}\n{timestamp}\n{hashlib.sha256(body).hexdigest()}"
    return {"X-Fal-Webhook-Request-Id": request_id, "X-Fal-Webhook-User-Id": user_id,
            "X-Fal-Webhook-Timestamp": str(timestamp),
            "X-Fal-Webhook-Signature": key.sign(message.encode()).hex()}


@pytest.fixture
def keys():
    return [Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()]


@pytest.fixture
def jwks_server(server, keys):
    server.routes[JWKS_PATH] = Reply(body={"keys": [
        {"kty": "RSA", "n": "ignored", "e": "AQAB"}, jwk(keys[0]), jwk(keys[1])]})
    return server


@pytest.fixture
def verifier(jwks_server) -> FalWebhook:
    return FalWebhook(name="fal", config={"JWKS_URL": jwks_server.url + JWKS_PATH})


def test_accepts_signature_of_any_jwks_key(verifier, keys):
    """Signed by either key of the set (fal rotates keys), the webhook parses."""
    for key in keys:
        [event] = verifier.parse(headers=signed(BODY, key), body=BODY)
        assert event.status == "succeeded"
        assert event.output_url.endswith("output.mp4")
        assert event.event_id == f"{REQUEST_ID}:OK"


def test_jwks_is_fetched_once_and_cached(verifier, keys, jwks_server):
    for _ in range(3):
        verifier.parse(headers=signed(BODY, keys[0]), body=BODY)
    assert [r.path for r in jwks_server.requests] == [JWKS_PATH]


def test_a_burst_on_a_cold_cache_fetches_the_jwks_once(verifier, keys, jwks_server):
    """The first renders of a spike finish together: their webhooks, on every request thread
    at once, wait for one fetch instead of each making its own."""
    jwks_server.routes[JWKS_PATH] = Reply(body={"keys": [jwk(keys[0])]}, delay=0.3)
    start, results = threading.Barrier(8), []

    def receive():
        start.wait(10)
        [event] = verifier.parse(headers=signed(BODY, keys[0]), body=BODY)
        results.append(event.status)

    threads = [threading.Thread(target=receive) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert results == ["succeeded"] * 8
    assert [r.path for r in jwks_server.requests] == [JWKS_PATH]


def test_jwks_cache_expires_after_a_day(verifier, keys, jwks_server, monkeypatch):
    verifier.parse(headers=signed(BODY, keys[0]), body=BODY)
    later = time.monotonic() + 24 * 3600 + 1
    monkeypatch.setattr(jwks, "_now", lambda: later)
    verifier.parse(headers=signed(BODY, keys[0]), body=BODY)
    assert len(jwks_server.requests) == 2


def test_refetches_keys_after_rotation(verifier, keys, jwks_server, monkeypatch):
    """A signature by a new key triggers one re-fetch once cached keys are 5+ minutes old."""
    verifier.parse(headers=signed(BODY, keys[0]), body=BODY)
    new_key = Ed25519PrivateKey.generate()
    jwks_server.routes[JWKS_PATH] = Reply(body={"keys": [jwk(new_key)]})
    with pytest.raises(WebhookSignatureInvalid):  # cache is fresh: no re-fetch yet
        verifier.parse(headers=signed(BODY, new_key), body=BODY)
    assert len(jwks_server.requests) == 1
    later = time.monotonic() + 301
    monkeypatch.setattr(jwks, "_now", lambda: later)
    assert verifier.parse(headers=signed(BODY, new_key), body=BODY)
    assert len(jwks_server.requests) == 2


def test_rejects_tampered_body(verifier, keys):
    with pytest.raises(WebhookSignatureInvalid):
        verifier.parse(headers=signed(BODY, keys[0]), body=BODY.replace(b"OK", b"KO"))


def test_rejects_unknown_key(verifier):
    with pytest.raises(WebhookSignatureInvalid):
        verifier.parse(headers=signed(BODY, Ed25519PrivateKey.generate()), body=BODY)


def test_rejects_other_request_id_or_user(verifier, keys):
    """The request and user ids are part of the signed message."""
    headers = signed(BODY, keys[0])
    for header in ("X-Fal-Webhook-Request-Id", "X-Fal-Webhook-User-Id"):
        with pytest.raises(WebhookSignatureInvalid):
            verifier.parse(headers={**headers, header: "someone-else"}, body=BODY)


def test_rejects_stale_and_future_timestamps(verifier, keys):
    now = int(time.time())
    for timestamp in (now - 301, now + 301):
        with pytest.raises(WebhookSignatureInvalid):
            verifier.parse(headers=signed(BODY, keys[0], timestamp=timestamp), body=BODY)


@pytest.mark.parametrize("missing", ["X-Fal-Webhook-Request-Id", "X-Fal-Webhook-User-Id",
                                     "X-Fal-Webhook-Timestamp", "X-Fal-Webhook-Signature"])
def test_rejects_missing_headers(verifier, keys, missing):
    headers = signed(BODY, keys[0])
    del headers[missing]
    with pytest.raises(WebhookSignatureInvalid):
        verifier.parse(headers=headers, body=BODY)


def test_rejects_non_hex_signature(verifier, keys):
    with pytest.raises(WebhookSignatureInvalid):
        verifier.parse(headers={**signed(BODY, keys[0]), "X-Fal-Webhook-Signature": "zz"},
                       body=BODY)


def test_unreachable_jwks_is_transient(keys):
    """If the keys cannot be fetched the view should answer 5xx so fal retries later."""
    verifier = FalWebhook(name="fal",
                          config={"JWKS_URL": f"http://127.0.0.1:{free_port()}{JWKS_PATH}"})
    with pytest.raises(TransientError):
        verifier.parse(headers=signed(BODY, keys[0]), body=BODY)


def test_error_webhook_is_a_readable_failure(verifier, keys):
    body = fixture_bytes("fal", "webhook_error")
    [event] = verifier.parse(headers=signed(body, keys[0]), body=body)
    assert event.status == "failed"
    assert event.event_id == f"{REQUEST_ID}:ERROR"
    assert event.error_code == "media_unreachable" and event.permanent_error
    assert "download" in event.error_message


def test_payload_error_falls_back_to_polling(verifier, keys):
    """OK without a deliverable payload is not a success without a URL: keep polling."""
    body = fixture_bytes("fal", "webhook_payload_error")
    [event] = verifier.parse(headers=signed(body, keys[0]), body=body)
    assert event.status == "rendering" and event.output_url is None


def test_unknown_status_is_a_payload_error(verifier, keys):
    body = b'{"request_id": "r1", "status": "MAYBE"}'
    with pytest.raises(WebhookPayloadInvalid):
        verifier.parse(headers=signed(body, keys[0], request_id="r1"), body=body)
