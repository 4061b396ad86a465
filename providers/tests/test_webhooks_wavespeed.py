"""WaveSpeed webhooks: v3 hex HMAC keyed with the secret's raw text, 300 s max age."""

from __future__ import annotations

import hashlib
import hmac
import time
from datetime import datetime, timezone

import pytest
from standardwebhooks.webhooks import Webhook

from providers.exceptions import WebhookSignatureInvalid
from providers.registry import parse_webhook
from providers.tests.conftest import SECRET
from providers.tests.support import fixture_bytes
from providers.webhooks.wavespeed import WaveSpeedWebhook

BODY = fixture_bytes("wavespeed", "webhook_completed")


def signed(body: bytes, *, secret: str = SECRET, timestamp: int | None = None,
           msg_id: str = "evt_01") -> dict[str, str]:
    """Signed independently of the code under test, per PROVIDERS.md."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    key = secret.removeprefix("whsec_").encode("utf-8")
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return {"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": f"v3,{digest}"}


@pytest.fixture
def verifier() -> WaveSpeedWebhook:
    return WaveSpeedWebhook(name="wavespeed", config={"WEBHOOK_SECRET": SECRET})


def test_accepts_valid_signature(verifier):
    """A correctly signed completion webhook parses into a succeeded event."""
    [event] = verifier.parse(headers=signed(BODY), body=BODY)
    assert event.status == "succeeded"
    assert event.output_url.endswith("/1.mp4")
    assert event.event_id == "evt_01"


def test_rejects_tampered_body(verifier):
    with pytest.raises(WebhookSignatureInvalid):
        verifier.parse(headers=signed(BODY), body=BODY.replace(b"completed", b"completeD"))


def test_rejects_wrong_key(verifier):
    with pytest.raises(WebhookSignatureInvalid):
        verifier.parse(headers=signed(BODY, secret="whsec_other"), body=BODY)


def test_rejects_standard_webhooks_signature(verifier):
    """The base64-decoded-key `v1` scheme is not WaveSpeed's, even with the same secret."""
    when = datetime.now(timezone.utc)
    headers = {"webhook-id": "evt_01", "webhook-timestamp": str(int(when.timestamp())),
               "webhook-signature": Webhook(SECRET).sign("evt_01", when, BODY.decode())}
    with pytest.raises(WebhookSignatureInvalid):
        verifier.parse(headers=headers, body=BODY)


def test_rejects_stale_and_future_timestamps(verifier):
    now = int(time.time())
    for timestamp in (now - 301, now + 301):
        with pytest.raises(WebhookSignatureInvalid):
            verifier.parse(headers=signed(BODY, timestamp=timestamp), body=BODY)
    assert verifier.parse(headers=signed(BODY, timestamp=now - 290), body=BODY)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_rejects_missing_headers(verifier, missing):
    headers = signed(BODY)
    del headers[missing]
    with pytest.raises(WebhookSignatureInvalid):
        verifier.parse(headers=headers, body=BODY)


def test_accepts_one_good_signature_among_several(verifier):
    """Rotation: a space-separated list where one signature matches."""
    old = signed(BODY, secret="whsec_old")["webhook-signature"]
    headers = signed(BODY)
    headers["webhook-signature"] = f"{old} v1,abc {headers['webhook-signature']}"
    assert verifier.parse(headers=headers, body=BODY)
    headers["webhook-signature"] = old
    with pytest.raises(WebhookSignatureInvalid):
        verifier.parse(headers=headers, body=BODY)


def test_failed_webhook_parses(verifier):
    body = fixture_bytes("wavespeed", "webhook_failed")
    [event] = verifier.parse(headers=signed(body), body=body)
    assert event.status == "failed"
    assert event.error_message and not event.permanent_error


def test_local_wavespeed_dialect_uses_this_verifier(settings):
    """A LocalBackend with DIALECT wavespeed verifies WaveSpeed-style signatures."""
    settings.PROVIDERS = {"lw": {"BACKEND": "providers.backends.local.LocalBackend",
                                 "DIALECT": "wavespeed", "WEBHOOK_SECRET": SECRET}}
    [event] = parse_webhook("lw", headers=signed(BODY), body=BODY)
    assert event.provider == "lw" and event.status == "succeeded"
