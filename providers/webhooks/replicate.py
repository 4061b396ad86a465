"""Replicate webhooks: Standard Webhooks (HMAC-SHA256, `v1,<base64>`) over predictions."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from typing import Any, Mapping

from providers.backends.replicate import ReplicateBackend, prediction_event
from providers.events import ProviderEvent
from providers.exceptions import ProviderNotConfigured
from providers.webhooks.base import WebhookVerifier


def standard_webhooks_key(secret: str) -> bytes:
    """The HMAC key of a `whsec_<base64>` secret: its base64-decoded part."""
    encoded = secret.removeprefix("whsec_")
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError) as error:
        raise ProviderNotConfigured("WEBHOOK_SECRET is not a whsec_<base64> secret") from error
    if not key:
        raise ProviderNotConfigured("WEBHOOK_SECRET is empty")
    return key


def standard_webhooks_signature(*, key: bytes, msg_id: str, timestamp: str, body: bytes) -> bytes:
    return hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()


class StandardWebhookVerifier(WebhookVerifier):
    """Standard Webhooks v1 symmetric verification; subclasses parse the body."""

    def verify(self, *, headers: Mapping[str, str], body: bytes) -> None:
        msg_id, timestamp, signatures = self.require_headers(
            headers, "webhook-id", "webhook-timestamp", "webhook-signature")
        self.check_timestamp(timestamp)
        expected = standard_webhooks_signature(key=standard_webhooks_key(self.secret()),
                                               msg_id=msg_id, timestamp=timestamp.strip(),
                                               body=body)
        # Several space-separated signatures appear while a secret is being rotated.
        for versioned in signatures.split():
            version, _, encoded = versioned.partition(",")
            if version != "v1":
                continue
            try:
                candidate = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                continue
            if hmac.compare_digest(candidate, expected):
                return
        raise self.invalid("no matching webhook signature")


class ReplicateWebhook(StandardWebhookVerifier):
    """The body is the prediction object; the webhook-id is the idempotency key."""

    default_settings = ReplicateBackend.default_settings

    def parse_events(self, *, headers: Mapping[str, str], data: Any) -> list[ProviderEvent]:
        return [prediction_event(self.name, data, event_id=headers["webhook-id"],
                                 warming_after=self.config["WARMING_AFTER_SECONDS"])]
