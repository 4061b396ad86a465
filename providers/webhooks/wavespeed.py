"""WaveSpeed webhooks: `v3,<hex>` HMAC-SHA256 keyed with the raw secret text; completion only."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any, Mapping

from providers.backends.wavespeed import WaveSpeedBackend, prediction_event
from providers.events import ProviderEvent
from providers.webhooks.base import WebhookVerifier


def wavespeed_signature(*, secret: str, msg_id: str, timestamp: str, body: bytes) -> str:
    """hex(HMAC-SHA256(key=secret minus "whsec_" as UTF-8, not base64, "{id}.{ts}.{body}"))."""
    key = secret.removeprefix("whsec_").encode()
    return hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


class WaveSpeedWebhook(WebhookVerifier):
    """Not Standard-Webhooks-compatible despite the same header names: see wavespeed_signature."""

    default_settings = WaveSpeedBackend.default_settings

    def verify(self, *, headers: Mapping[str, str], body: bytes) -> None:
        msg_id, timestamp, signatures = self.require_headers(
            headers, "webhook-id", "webhook-timestamp", "webhook-signature")
        self.check_timestamp(timestamp)
        expected = wavespeed_signature(secret=self.secret(), msg_id=msg_id,
                                       timestamp=timestamp.strip(), body=body)
        for versioned in signatures.split():
            version, _, candidate = versioned.partition(",")
            if version == "v3" and hmac.compare_digest(candidate.lower().encode(),
                                                       expected.encode()):
                return
        raise self.invalid("no matching webhook signature")

    def parse_events(self, *, headers: Mapping[str, str], data: Any) -> list[ProviderEvent]:
        # The body is the flat data object, without the API's {code, message, data} envelope.
        return [prediction_event(self.name, data, event_id=headers["webhook-id"])]
