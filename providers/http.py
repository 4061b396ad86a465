"""Shared pooled httpx client per backend, with timeouts, User-Agent and error classification."""

from __future__ import annotations

import email.utils
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import httpx
from django.conf import settings

from providers.exceptions import (
    UNAVAILABLE_MESSAGE,
    PermanentError,
    ProviderError,
    RateLimited,
    TransientError,
)

DEFAULT_VERSION = "1.0"
_RESETS_IN = re.compile(r"resets in\s*~?\s*(\d+(?:\.\d+)?)\s*s", re.IGNORECASE)


@dataclass(frozen=True)
class ApiRequest:
    """One call to a provider API; `path` is relative to the backend's BASE_URL."""

    method: str
    path: str
    json: Any = None
    params: Mapping[str, str] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    ok_statuses: tuple[int, ...] = ()  # non-2xx statuses the caller interprets itself


@dataclass(frozen=True)
class ApiResponse:
    """A provider's answer: status, parsed JSON body (None if empty or not JSON) and headers."""

    status_code: int
    data: Any
    headers: Mapping[str, str]


def user_agent() -> str:
    return f"Surge/{getattr(settings, 'SURGE_VERSION', DEFAULT_VERSION)}"


def build_timeout(timeouts: Mapping[str, float]) -> httpx.Timeout:
    return httpx.Timeout(connect=timeouts["connect"], read=timeouts["read"],
                         write=timeouts["write"], pool=timeouts["pool"])


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait per a Retry-After header (delta-seconds or HTTP-date), else None."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _message_from(data: Any, fallback: str) -> str:
    if isinstance(data, dict):
        for key in ("detail", "message", "error", "title"):
            value = data.get(key)
            if isinstance(value, str) and value:
                return value
            if isinstance(value, (list, dict)) and value:
                return str(value)[:500]
    return fallback


# A backend's hook for errors its vendor explains in its own way (see ProviderBackend).
ErrorClassifier = Callable[[ApiResponse], ProviderError | None]


def classify_response(response: httpx.Response, *, provider: str,
                      classify_error: ErrorClassifier | None = None) -> ProviderError:
    """The exception for a non-success response: 429, the vendor's hook, 5xx/408, other 4xx."""
    status = response.status_code
    data = _json_or_none(response)
    message = _message_from(data, response.text[:300] or response.reason_phrase)
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is None:
            match = _RESETS_IN.search(message)
            retry_after = float(match.group(1)) if match else None
        return RateLimited(f"{provider}: rate limited: {message}", retry_after=retry_after,
                           provider=provider, status_code=status)
    if classify_error is not None:
        error = classify_error(ApiResponse(status, data, response.headers))
        if error is not None:
            return error
    if status >= 500 or status == 408:
        return TransientError(f"{provider}: HTTP {status}: {message}", provider=provider,
                              status_code=status, maybe_processed=status != 503)
    if status in (401, 403):
        return PermanentError(
            f"{provider}: HTTP {status}: the provider rejected our credentials ({message}); "
            f"check API_KEY in settings.PROVIDERS[{provider!r}]",
            code="auth", user_message=UNAVAILABLE_MESSAGE, provider=provider, status_code=status)
    if status == 404:
        return PermanentError(f"{provider}: HTTP 404: {message}", code="not_found",
                              provider=provider, status_code=status)
    if status < 400:  # redirects are not followed: an API should never send one
        return PermanentError(f"{provider}: unexpected HTTP {status} "
                              f"to {response.headers.get('Location', '?')}",
                              code=f"http_{status}", provider=provider, status_code=status)
    return PermanentError(f"{provider}: HTTP {status}: {message}",
                          code="bad_request" if status in (400, 422) else f"http_{status}",
                          provider=provider, status_code=status)


class ProviderHttp:
    """A lazily created, thread-safe, pooled httpx.Client bound to one provider's settings."""

    def __init__(self, *, provider: str, base_url: str, timeouts: Mapping[str, float],
                 headers: Mapping[str, str] | None = None,
                 classify_error: ErrorClassifier | None = None) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.timeout = build_timeout(timeouts)
        self.headers = {"User-Agent": user_agent(), "Accept": "application/json",
                        **(headers or {})}
        self.classify_error = classify_error
        self._client: httpx.Client | None = None
        self._lock = threading.Lock()

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = httpx.Client(
                        base_url=self.base_url, timeout=self.timeout, headers=self.headers,
                        follow_redirects=False,
                        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20))
        return self._client

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def send(self, request: ApiRequest) -> ApiResponse:
        """Send one request; return the response if 2xx (or ok_statuses), else raise classified."""
        try:
            response = self.client.request(
                request.method, request.path.lstrip("/") if not request.path.startswith("http")
                else request.path,
                json=request.json, params=request.params, headers=dict(request.headers))
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            raise TransientError(f"{self.provider}: cannot connect: {error!r}",
                                 provider=self.provider) from error
        except httpx.TimeoutException as error:
            raise TransientError(f"{self.provider}: timed out: {error!r}", provider=self.provider,
                                 maybe_processed=True) from error
        except httpx.LocalProtocolError as error:  # e.g. a header value we cannot send
            raise PermanentError(f"{self.provider}: cannot send the request: {error}",
                                 code="bad_request", provider=self.provider) from error
        except httpx.TransportError as error:
            raise TransientError(f"{self.provider}: connection error: {error!r}",
                                 provider=self.provider, maybe_processed=True) from error
        if not (200 <= response.status_code < 300 or response.status_code in request.ok_statuses):
            raise classify_response(response, provider=self.provider,
                                    classify_error=self.classify_error)
        data = _json_or_none(response)
        if data is None and response.content and 200 <= response.status_code < 300:
            raise TransientError(f"{self.provider}: HTTP {response.status_code} with a non-JSON "
                                 f"body: {response.text[:200]!r}", provider=self.provider,
                                 status_code=response.status_code, maybe_processed=True)
        return ApiResponse(response.status_code, data, response.headers)
