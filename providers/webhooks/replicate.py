"""Replicate webhooks: Standard Webhooks (HMAC-SHA256, `v1,<base64>`) over predictions."""

from __future__ import annotations

import base64
import binascii
from functools import cached_property
from typing import Any, Mapping

from standardwebhooks.webhooks import (
    EmptyWebhookSecretError,
    Webhook,
    WebhookVerificationError,
)

from providers.backends.replicate import ReplicateBackend, prediction_event
from providers.events import ProviderEvent
from providers.exceptions import ProviderNotConfigured
from providers.webhooks.base import WebhookVerifier

# standardwebhooks refuses timestamps more than five minutes off (the spec's window), whatever
# WEBHOOK_TOLERANCE_SECONDS says: a provider's window may be narrower, never wider.
PACKAGE_TOLERANCE_SECONDS = 300


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _checkable(signature: str) -> bool:
    """A `v1,<base64>` entry: the package raises on anything else instead of skipping it."""
    version, comma, encoded = signature.partition(",")
    return version == "v1" and bool(comma) and _is_base64(encoded)


class StandardWebhookVerifier(WebhookVerifier):
    """Standard Webhooks v1 symmetric verification by the standardwebhooks package; subclasses
    parse the body."""

    def __init__(self, *, name: str, config: dict[str, Any]) -> None:
        super().__init__(name=name, config=config)
        if self.config["WEBHOOK_TOLERANCE_SECONDS"] > PACKAGE_TOLERANCE_SECONDS:
            raise ProviderNotConfigured(
                f"settings.PROVIDERS[{name!r}]['WEBHOOK_TOLERANCE_SECONDS'] can be at most "
                f"{PACKAGE_TOLERANCE_SECONDS} for Standard Webhooks")

    @cached_property
    def webhook(self) -> Webhook:
        """The package's verifier, keyed with the base64-decoded part of `whsec_<base64>`."""
        secret = self.secret()
        encoded = secret.removeprefix("whsec_")
        # The package drops characters that are not base64, which would make a mistyped secret
        # fail every webhook without saying why.
        if not _is_base64(encoded + "=" * (-len(encoded) % 4)):
            raise ProviderNotConfigured("WEBHOOK_SECRET is not a whsec_<base64> secret")
        try:
            return Webhook(secret)
        except EmptyWebhookSecretError as error:
            raise ProviderNotConfigured("WEBHOOK_SECRET is empty") from error

    def verify(self, *, headers: Mapping[str, str], body: bytes) -> None:
        msg_id, timestamp, signatures = self.require_headers(
            headers, "webhook-id", "webhook-timestamp", "webhook-signature")
        self.check_timestamp(timestamp)  # first, for the window and a precise reason
        # Several space-separated signatures appear while a secret is being rotated.
        checkable = [signature for signature in signatures.split() if _checkable(signature)]
        if not checkable:
            raise self.invalid("no matching webhook signature")
        try:
            self.webhook.verify(body, {"webhook-id": msg_id, "webhook-timestamp": timestamp,
                                       "webhook-signature": " ".join(checkable)},
                                json_parse=False)
        except UnicodeDecodeError:  # the package signs text: a binary body cannot be verified
            raise self.invalid("webhook body is not UTF-8 text") from None
        except WebhookVerificationError as error:
            if "No matching signature" in str(error):
                raise self.invalid("no matching webhook signature") from None
            raise self.invalid(f"webhook refused: {error}") from None


class ReplicateWebhook(StandardWebhookVerifier):
    """The body is the prediction object; the webhook-id is the idempotency key."""

    default_settings = ReplicateBackend.default_settings

    def parse_events(self, *, headers: Mapping[str, str], data: Any) -> list[ProviderEvent]:
        return [prediction_event(self.name, data, event_id=headers["webhook-id"],
                                 warming_after=self.config["WARMING_AFTER_SECONDS"])]
