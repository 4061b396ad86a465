"""Replicate webhooks: Standard Webhooks verification, cross-checked with the official package."""

from __future__ import annotations

import base64
import json
import random
from datetime import datetime, timedelta, timezone

import pytest
from django.core.exceptions import SuspiciousOperation
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from providers.backends.fake import build_event, webhook_request
from providers.exceptions import (
    ProviderNotConfigured,
    WebhookPayloadInvalid,
    WebhookSignatureInvalid,
)
from providers.registry import parse_webhook
from providers.tests.conftest import SECRET
from providers.tests.support import fixture_bytes
from providers.webhooks.replicate import ReplicateWebhook

OTHER_SECRET = "whsec_" + base64.b64encode(b"another-secret-of-32-bytes-long!").decode()
MSG_ID = "msg_2bYy8vLqFhF3x9ZQ0kq1cR5hT7u"


def signed(body: bytes, *, secret: str = SECRET, when: datetime | None = None,
           msg_id: str = MSG_ID) -> dict[str, str]:
    """Headers as the official standardwebhooks package signs them."""
    when = when or datetime.now(timezone.utc)
    signature = Webhook(secret).sign(msg_id, when, body.decode())
    return {"webhook-id": msg_id, "webhook-timestamp": str(int(when.timestamp())),
            "webhook-signature": signature}


@pytest.fixture
def verifier() -> ReplicateWebhook:
    return ReplicateWebhook(name="replicate", config={"WEBHOOK_SECRET": SECRET})


BODY = fixture_bytes("replicate", "prediction_processing")


def test_accepts_what_the_official_package_signs(verifier):
    """A webhook signed by standardwebhooks verifies and parses into one event."""
    [event] = verifier.parse(headers=signed(BODY), body=BODY)
    assert event.status == "rendering"
    assert event.event_id == MSG_ID
    assert event.progress == pytest.approx(0.42)


def test_header_names_are_case_insensitive(verifier):
    """Django's request.headers spells them Webhook-Id etc."""
    headers = {key.title(): value for key, value in signed(BODY).items()}
    assert verifier.parse(headers=headers, body=BODY)


def test_rejects_tampered_body(verifier):
    """Changing one byte of the body breaks the signature."""
    headers = signed(BODY)
    with pytest.raises(WebhookSignatureInvalid):
        verifier.parse(headers=headers, body=BODY.replace(b"processing", b"succeeded!"))


def test_rejects_wrong_key(verifier):
    """A signature made with another secret is refused."""
    with pytest.raises(WebhookSignatureInvalid):
        verifier.parse(headers=signed(BODY, secret=OTHER_SECRET), body=BODY)


def test_rejects_stale_timestamp(verifier):
    """Replays older than five minutes are refused even with a valid signature."""
    when = datetime.now(timezone.utc) - timedelta(seconds=301)
    with pytest.raises(WebhookSignatureInvalid, match="behind"):
        verifier.parse(headers=signed(BODY, when=when), body=BODY)


def test_rejects_future_timestamp(verifier):
    """Timestamps more than five minutes ahead are refused."""
    when = datetime.now(timezone.utc) + timedelta(seconds=301)
    with pytest.raises(WebhookSignatureInvalid, match="ahead"):
        verifier.parse(headers=signed(BODY, when=when), body=BODY)


def test_accepts_timestamp_inside_window(verifier):
    """Clock skew within the tolerance is fine."""
    when = datetime.now(timezone.utc) - timedelta(seconds=250)
    assert verifier.parse(headers=signed(BODY, when=when), body=BODY)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_rejects_missing_headers(verifier, missing):
    """Each of the three headers is required."""
    headers = signed(BODY)
    del headers[missing]
    with pytest.raises(WebhookSignatureInvalid, match="missing"):
        verifier.parse(headers=headers, body=BODY)


def test_accepts_any_of_several_signatures(verifier):
    """During key rotation the header lists several signatures; one valid one suffices."""
    good = signed(BODY)
    old = signed(BODY, secret=OTHER_SECRET)["webhook-signature"]
    headers = {**good, "webhook-signature":
               f"v1a,c29tZXRoaW5n {old} v1,not-base64!! {good['webhook-signature']}"}
    assert verifier.parse(headers=headers, body=BODY)


def test_rejects_when_no_signature_of_the_list_matches(verifier):
    """A list of only wrong or unknown-version signatures is refused."""
    good = signed(BODY)
    old = signed(BODY, secret=OTHER_SECRET)["webhook-signature"]
    right_but_v2 = good["webhook-signature"].replace("v1,", "v2,")
    with pytest.raises(WebhookSignatureInvalid):
        verifier.parse(headers={**good, "webhook-signature": f"{old} {right_but_v2}"}, body=BODY)


def test_rejects_non_numeric_timestamp(verifier):
    """The timestamp must be integer Unix seconds."""
    with pytest.raises(WebhookSignatureInvalid):
        verifier.parse(headers={**signed(BODY), "webhook-timestamp": "yesterday"}, body=BODY)


def test_signature_errors_are_suspicious_operations():
    """Django logs SuspiciousOperation to django.security and answers 400."""
    assert issubclass(WebhookSignatureInvalid, SuspiciousOperation)


def test_agrees_with_the_official_verifier_on_random_mutations(verifier):
    """Ours accepts exactly what standardwebhooks.Webhook.verify accepts."""
    rng = random.Random(7)
    official = Webhook(SECRET)
    for _ in range(200):
        body = BODY
        headers = signed(body, when=datetime.now(timezone.utc)
                         - timedelta(seconds=rng.choice([0, 10, 299, 310, -310])))
        mutation = rng.choice(["none", "body", "id", "timestamp", "signature", "secret"])
        if mutation == "body":
            position = rng.randrange(len(body))
            body = body[:position] + bytes([body[position] ^ 1]) + body[position + 1:]
        elif mutation == "id":
            headers["webhook-id"] += "x"
        elif mutation == "timestamp":
            headers["webhook-timestamp"] = str(int(headers["webhook-timestamp"]) + 1)
        elif mutation == "signature":
            raw = bytearray(base64.b64decode(headers["webhook-signature"][3:]))
            raw[rng.randrange(len(raw))] ^= 0x10
            headers["webhook-signature"] = "v1," + base64.b64encode(bytes(raw)).decode()
        elif mutation == "secret":
            headers = signed(body, secret=OTHER_SECRET)
        try:
            official.verify(body, headers, json_parse=False)
            expected = True
        except (WebhookVerificationError, UnicodeDecodeError):
            expected = False
        try:
            verifier.verify(headers=headers, body=body)
            actual = True
        except WebhookSignatureInvalid:
            actual = False
        assert actual == expected, (mutation, headers)


def test_signed_garbage_is_a_payload_error(verifier):
    """A validly signed body that is not a prediction is a 400, not a signature failure."""
    for body in (b"not json", json.dumps({"hello": "world"}).encode(),
                 json.dumps({"id": "x", "status": "exploded"}).encode()):
        with pytest.raises(WebhookPayloadInvalid):
            verifier.parse(headers=signed(body), body=body)


def test_missing_secret_is_a_configuration_error():
    """Without WEBHOOK_SECRET nothing is accepted (verification is never skipped)."""
    verifier = ReplicateWebhook(name="replicate", config={})
    with pytest.raises(ProviderNotConfigured):
        verifier.parse(headers=signed(BODY), body=BODY)


def test_parse_webhook_looks_up_the_provider(settings):
    """parse_webhook finds the provider's verifier through settings.PROVIDERS."""
    settings.PROVIDERS = {"rep": {"BACKEND": "providers.backends.replicate.ReplicateBackend",
                                  "WEBHOOK_SECRET": SECRET}}
    [event] = parse_webhook("rep", headers=signed(BODY), body=BODY)
    assert event.provider == "rep"
    with pytest.raises(ProviderNotConfigured):
        parse_webhook("nope", headers=signed(BODY), body=BODY)


@pytest.mark.parametrize("noise", ["garbage", "v1", "v1,a,b", ",", "v1,", "v1,YWJj,ZGVm"])
def test_malformed_signature_entries_are_skipped(verifier, noise):
    """An entry the package cannot parse neither crashes verification nor hides a good one."""
    good = signed(BODY)
    headers = {**good, "webhook-signature": f"{noise}  {good['webhook-signature']}"}
    assert verifier.parse(headers=headers, body=BODY)
    with pytest.raises(WebhookSignatureInvalid, match="no matching webhook signature"):
        verifier.parse(headers={**good, "webhook-signature": noise}, body=BODY)


def test_binary_body_is_refused_not_crashed(verifier):
    """A body that is not UTF-8 cannot be what Replicate signed: refused as a bad signature."""
    body = b"\xff\xfe" + BODY
    with pytest.raises(WebhookSignatureInvalid, match="not UTF-8"):
        verifier.parse(headers=signed(BODY), body=body)


def test_a_narrower_window_is_honoured():
    """WEBHOOK_TOLERANCE_SECONDS below the spec's five minutes shortens the replay window."""
    verifier = ReplicateWebhook(name="replicate", config={"WEBHOOK_SECRET": SECRET,
                                                          "WEBHOOK_TOLERANCE_SECONDS": 60})
    assert verifier.parse(headers=signed(BODY, when=datetime.now(timezone.utc)
                                         - timedelta(seconds=30)), body=BODY)
    with pytest.raises(WebhookSignatureInvalid, match="behind by 1[23]"):
        verifier.parse(headers=signed(BODY, when=datetime.now(timezone.utc)
                                      - timedelta(seconds=125)), body=BODY)


def test_a_wider_window_than_the_spec_is_a_configuration_error():
    """standardwebhooks enforces five minutes; a longer setting would silently not apply."""
    with pytest.raises(ProviderNotConfigured, match="at most 300"):
        ReplicateWebhook(name="replicate", config={"WEBHOOK_SECRET": SECRET,
                                                   "WEBHOOK_TOLERANCE_SECONDS": 600})


@pytest.mark.parametrize("secret", ["whsec_not base64!", "whsec_abcde", "whsec_", ""])
def test_a_malformed_secret_is_a_configuration_error(secret):
    """A mistyped secret says so instead of failing every webhook as a bad signature."""
    verifier = ReplicateWebhook(name="replicate", config={"WEBHOOK_SECRET": secret})
    with pytest.raises(ProviderNotConfigured, match="WEBHOOK_SECRET"):
        verifier.parse(headers=signed(BODY), body=BODY)


def test_the_fake_signs_what_the_package_verifies():
    """providers.backends.fake.webhook_request signs with the package too."""

    headers, body = webhook_request(build_event("j1", "queued"), secret=SECRET)
    Webhook(SECRET).verify(body, headers, json_parse=False)
