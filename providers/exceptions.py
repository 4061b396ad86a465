"""Provider errors, classified by what the caller should do about them."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured, SuspiciousOperation

GENERIC_USER_MESSAGE = "The video could not be generated. Please try again."
UNAVAILABLE_MESSAGE = "The video service is unavailable right now. Please try again later."


class ProviderError(Exception):
    """Base class: something went wrong talking to (or hearing from) a provider."""

    def __init__(self, message: str = "", *, provider: str | None = None,
                 status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.status_code = status_code


class RateLimited(ProviderError):
    """The provider throttled us (HTTP 429); retry after `retry_after` seconds (None: back off)."""

    def __init__(self, message: str = "", *, retry_after: float | None = None, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class TransientError(ProviderError):
    """Temporary failure (5xx, timeout, connection error): the same call may succeed later.

    `maybe_processed` is True when the request may have reached the provider (read timeout,
    dropped connection after sending): a create must then not be retried blindly.
    """

    def __init__(self, message: str = "", *, maybe_processed: bool = False, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.maybe_processed = maybe_processed


class PermanentError(ProviderError):
    """The provider refused the request for good (4xx, moderation, bad input, bad credentials)."""

    def __init__(self, message: str = "", *, code: str = "rejected",
                 user_message: str = GENERIC_USER_MESSAGE, **kwargs) -> None:
        super().__init__(message, **kwargs)
        self.code = code
        self.user_message = user_message


class WebhookSignatureInvalid(ProviderError, SuspiciousOperation):
    """A webhook's signature, timestamp or signature headers are missing or wrong."""


class WebhookPayloadInvalid(ProviderError):
    """A verified webhook body is not the JSON shape the provider documents (answer 400)."""


class ProviderNotConfigured(ImproperlyConfigured):
    """settings.PROVIDERS has no such provider, or it lacks a setting the operation needs."""
