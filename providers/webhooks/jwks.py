"""Ed25519 public keys from a JWKS URL, cached in-process for at most JWKS_CACHE_SECONDS.

A cold cache meets a burst: the first renders of a spike finish together and their webhooks
arrive on every request thread at once. One thread fetches, the others wait for its keys; and
the fetch reuses one HTTP client, whose TLS context costs ~10 ms of CPU to build.
"""

from __future__ import annotations

import base64
import binascii
import threading
import time
from typing import Mapping

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from providers.exceptions import TransientError
from providers.http import build_timeout, user_agent

_cache: dict[str, tuple[float, list[Ed25519PublicKey]]] = {}
_lock = threading.Lock()
_fetching: dict[str, threading.Lock] = {}  # one per URL: a single fetch at a time
_client: httpx.Client | None = None
_now = time.monotonic  # a seam for tests


def _http() -> httpx.Client:
    global _client
    with _lock:
        if _client is None:
            _client = httpx.Client(headers={"User-Agent": user_agent()}, follow_redirects=False)
        return _client


def warm_up() -> None:
    """Build the HTTP client at start, not on the first webhook of a spike (no request made)."""
    _http()


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def _b64url(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def parse_jwks(document: object) -> list[Ed25519PublicKey]:
    """The Ed25519 keys (kty OKP, crv Ed25519, 32-byte x) of a JWKS document; others skipped."""
    keys = []
    for jwk in (document.get("keys") if isinstance(document, dict) else None) or []:
        if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
            continue
        try:
            raw = _b64url(str(jwk.get("x", "")))
        except (binascii.Error, ValueError):
            continue
        if len(raw) == 32:
            keys.append(Ed25519PublicKey.from_public_bytes(raw))
    return keys


def fetch_keys(url: str, *, timeouts: Mapping[str, float]) -> list[Ed25519PublicKey]:
    try:
        response = _http().get(url, timeout=build_timeout(timeouts))
        response.raise_for_status()
        keys = parse_jwks(response.json())
    except (httpx.HTTPError, ValueError) as error:
        # The view answers 5xx to a TransientError, so the provider retries the webhook later.
        raise TransientError(f"cannot fetch JWKS from {url}: {error!r}") from error
    if not keys:
        raise TransientError(f"JWKS at {url} holds no Ed25519 keys")
    return keys


def get_keys(url: str, *, max_age: float, timeouts: Mapping[str, float],
             refresh_older_than: float | None = None) -> tuple[list[Ed25519PublicKey], bool]:
    """(keys, refreshed): cached keys, re-fetched once older than max_age/refresh_older_than."""
    limit = max_age if refresh_older_than is None else min(max_age, refresh_older_than)
    started = _now()
    with _lock:
        cached = _cache.get(url)
        fetching = _fetching.setdefault(url, threading.Lock())
    if cached and started - cached[0] < limit:
        return cached[1], False
    with fetching:
        with _lock:
            cached = _cache.get(url)
        if cached and cached[0] >= started:  # fetched by another thread while this one waited
            return cached[1], True
        keys = fetch_keys(url, timeouts=timeouts)
        with _lock:
            _cache[url] = (_now(), keys)
    return keys, True
