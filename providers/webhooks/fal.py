"""fal webhooks: Ed25519 signatures checked against fal's JWKS; OK/ERROR request results."""

from __future__ import annotations

import hashlib
from typing import Any, Mapping

from cryptography.exceptions import InvalidSignature

from providers.backends.fal import (
    FalBackend,
    error_event,
    error_text,
    result_event,
    video_url,
)
from providers.events import ProviderEvent
from providers.webhooks import jwks
from providers.webhooks.base import WebhookVerifier

# After a failed check, re-fetch keys older than this (fal may have rotated its key), but no
# more often, so forged requests cannot make us hammer the JWKS endpoint.
ROTATION_REFRESH_SECONDS = 300
HEADERS = ("x-fal-webhook-request-id", "x-fal-webhook-user-id", "x-fal-webhook-timestamp",
           "x-fal-webhook-signature")


def fal_message(*, request_id: str, user_id: str, timestamp: str, body: bytes) -> bytes:
    return "\n".join([request_id, user_id, timestamp, hashlib.sha256(body).hexdigest()]).encode()


class FalWebhook(WebhookVerifier):
    """Verify against every key of the JWKS; dedupe on request_id + status."""

    default_settings = FalBackend.default_settings

    def verify(self, *, headers: Mapping[str, str], body: bytes) -> None:
        request_id, user_id, timestamp, signature = self.require_headers(headers, *HEADERS)
        self.check_timestamp(timestamp)
        try:
            signature_bytes = bytes.fromhex(signature.strip())
        except ValueError:
            raise self.invalid("webhook signature is not hex") from None
        message = fal_message(request_id=request_id, user_id=user_id,
                              timestamp=timestamp.strip(), body=body)
        url = self.config["JWKS_URL"]
        options = {"max_age": min(self.config["JWKS_CACHE_SECONDS"], 24 * 3600),
                   "timeouts": self.config["TIMEOUTS"]}
        keys, refreshed = jwks.get_keys(url, **options)
        if self._matches(keys, signature_bytes, message):
            return
        if not refreshed:
            keys, refreshed = jwks.get_keys(url, refresh_older_than=ROTATION_REFRESH_SECONDS,
                                            **options)
            if refreshed and self._matches(keys, signature_bytes, message):
                return
        raise self.invalid("no JWKS key matches the webhook signature")

    @staticmethod
    def _matches(keys, signature: bytes, message: bytes) -> bool:
        for key in keys:
            try:
                key.verify(signature, message)
                return True
            except InvalidSignature:
                continue
        return False

    def parse_events(self, *, headers: Mapping[str, str], data: Any) -> list[ProviderEvent]:
        request_id = str(data.get("request_id") or headers["x-fal-webhook-request-id"])
        status = data.get("status")
        event_id = f"{request_id}:{status}"
        payload = data.get("payload")
        if status == "OK":
            if video_url(payload) is None and data.get("payload_error"):
                # The result was too large to deliver: the poller must fetch it instead.
                return [ProviderEvent(provider=self.name, provider_job_id=request_id,
                                      event_id=event_id, status="rendering", raw=data,
                                      detail="result not delivered by webhook; polling for it")]
            return [result_event(self.name, request_id, payload, event_id=event_id)]
        if status == "ERROR":
            return [error_event(self.name, request_id, error_text(data.get("error"), payload),
                                data, event_id=event_id)]
        raise ValueError(f"unknown fal webhook status {status!r}")
