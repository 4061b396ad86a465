"""WebhookVerifier: verify a provider's signature first, then parse the body into ProviderEvents."""

from __future__ import annotations

import json
import re
import time
from typing import Any, Mapping

from providers.conf import resolve
from providers.events import ProviderEvent
from providers.exceptions import (
    ProviderNotConfigured,
    WebhookPayloadInvalid,
    WebhookSignatureInvalid,
)

_INTEGER = re.compile(r"^\d{1,12}$")


class WebhookVerifier:
    """Base class: subclasses implement verify(headers, body) and parse_events(headers, data),
    and take their backend's default_settings."""

    default_settings: dict[str, Any] = {}

    def __init__(self, *, name: str, config: dict[str, Any]) -> None:
        self.name = name
        self.config = resolve(config, self.default_settings)

    def parse(self, *, headers: Mapping[str, str], body: bytes) -> list[ProviderEvent]:
        """Verify, then parse: raises WebhookSignatureInvalid or WebhookPayloadInvalid."""
        headers = {str(key).lower(): str(value) for key, value in headers.items()}
        self.verify(headers=headers, body=bytes(body))
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, ValueError) as error:
            raise WebhookPayloadInvalid(f"{self.name}: webhook body is not JSON: {error}",
                                        provider=self.name) from error
        try:
            return self.parse_events(headers=headers, data=data)
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise WebhookPayloadInvalid(f"{self.name}: unexpected webhook body: {error}",
                                        provider=self.name) from error

    def verify(self, *, headers: Mapping[str, str], body: bytes) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement verify")

    def parse_events(self, *, headers: Mapping[str, str], data: Any) -> list[ProviderEvent]:
        raise NotImplementedError(f"{type(self).__name__} must implement parse_events")

    # --- helpers for subclasses -----------------------------------------------------------------

    def secret(self) -> str:
        secret = self.config.get("WEBHOOK_SECRET") or ""
        if not secret:
            # Never accept unsigned webhooks: without a secret nothing can be verified.
            raise ProviderNotConfigured(
                f"settings.PROVIDERS[{self.name!r}] needs a WEBHOOK_SECRET to verify webhooks")
        return secret

    def require_headers(self, headers: Mapping[str, str], *names: str) -> list[str]:
        missing = [name for name in names if not headers.get(name)]
        if missing:
            raise WebhookSignatureInvalid(f"{self.name}: missing webhook headers {missing}",
                                          provider=self.name)
        return [headers[name] for name in names]

    def check_timestamp(self, value: str, *, now: float | None = None) -> int:
        """The header's Unix timestamp, if within ±WEBHOOK_TOLERANCE_SECONDS (replay window)."""
        if not _INTEGER.match(value.strip()):
            raise WebhookSignatureInvalid(f"{self.name}: bad webhook timestamp {value[:20]!r}",
                                          provider=self.name)
        timestamp = int(value)
        skew = timestamp - (time.time() if now is None else now)
        if abs(skew) > self.config["WEBHOOK_TOLERANCE_SECONDS"]:
            raise WebhookSignatureInvalid(
                f"{self.name}: webhook timestamp is {'ahead' if skew > 0 else 'behind'} "
                f"by {abs(skew):.0f}s", provider=self.name)
        return timestamp

    def invalid(self, reason: str) -> WebhookSignatureInvalid:
        return WebhookSignatureInvalid(f"{self.name}: {reason}", provider=self.name)
