"""Verified webhook parsing: parse_webhook(name, headers=…, body=…) → list[ProviderEvent]."""

from __future__ import annotations

from typing import Mapping

from providers.events import ProviderEvent
from providers.exceptions import ProviderNotConfigured


def parse_webhook(provider_name: str, *, headers: Mapping[str, str],
                  body: bytes) -> list[ProviderEvent]:
    """Verify a webhook with the provider's verifier, then parse it into normalized events.

    Raises WebhookSignatureInvalid (answer 403/400), WebhookPayloadInvalid (400),
    ProviderNotConfigured (404), or TransientError if fal's JWKS is unreachable (answer 5xx so
    the provider retries).
    """
    from providers.registry import get_backend

    backend = get_backend(provider_name)
    if not backend.supports_webhooks:
        raise ProviderNotConfigured(f"provider {provider_name!r} does not send webhooks")
    return backend.webhook_verifier.parse(headers=headers, body=body)
