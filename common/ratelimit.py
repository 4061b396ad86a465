"""Provides the rate limits of every way in: fixed windows counted in Redis, one refusal shape.

A limit counts attempts per key (an email, a client address, a user) in a window that starts
with the first attempt. Beyond its size the caller gets `ApplicationError` 429 with
`Retry-After`: the seconds left in the window. Every web process shares the counts through Redis,
so a limit holds however many processes there are. Sizes come from settings (README, Security).
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import math
from dataclasses import dataclass

import redis
from django.conf import settings

from common.exceptions import ApplicationError

# IPv6 customers get a /64 (or more) each: addresses inside one count as one client.
IPV6_CLIENT_PREFIX = 64


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` attempts per key in `window` seconds; `message` may name the {wait}."""

    name: str
    limit: int
    window: int
    message: str


@functools.lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5,
                                health_check_interval=30)


def _key(rule: RateLimit, key: str) -> str:
    digest = hashlib.sha256(key.strip().lower().encode()).hexdigest()[:32]
    return f"{settings.REDIS_PREFIX}:ratelimit:{rule.name}:{digest}"


def _wait_text(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} seconds"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minutes" if minutes < 90 else f"{math.ceil(minutes / 60)} hours"


def _refusal(rule: RateLimit, ttl_ms: int) -> ApplicationError:
    retry_after = max(1, math.ceil(ttl_ms / 1000)) if ttl_ms > 0 else rule.window
    return ApplicationError(rule.message.format(wait=_wait_text(retry_after)), status_code=429,
                            extra={"retry_after": retry_after},
                            headers={"Retry-After": str(retry_after)})


def rate_limit_hit(rule: RateLimit, key: str) -> None:
    """Count one attempt; raise 429 if it is beyond the limit (refused attempts count too)."""
    count, ttl_ms = _count(rule, key)
    if count > rule.limit:
        raise _refusal(rule, ttl_ms)


def rate_limit_clear(rule: RateLimit, key: str) -> None:
    _client(settings.REDIS_URL).delete(_key(rule, key))


# Takes one attempt back, within the same window (a key that expired meanwhile stays gone).
_REFUND = "if redis.call('exists', KEYS[1]) == 1 then return redis.call('decr', KEYS[1]) end"


def rate_limit_refund(rule: RateLimit, key: str) -> None:
    """Give back an attempt counted up front that turned out not to count (a success)."""
    _client(settings.REDIS_URL).eval(_REFUND, 1, _key(rule, key))


def _count(rule: RateLimit, key: str) -> tuple[int, int]:
    name = _key(rule, key)
    # One atomic round trip: the first attempt starts the window; later ones never extend it.
    with _client(settings.REDIS_URL).pipeline() as pipe:
        _, count, ttl_ms = pipe.set(name, 0, ex=rule.window, nx=True).incr(name).pttl(
            name).execute()
    return int(count), int(ttl_ms)


def address_key(address: str) -> str:
    """The key that counts for a client address: itself, or its /64 for IPv6."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/{IPV6_CLIENT_PREFIX}", strict=False))
    return str(ip)


def client_ip(request) -> str:
    """The caller's address: the one place that decides it (DRF's NUM_PROXIES mirrors it).

    `X-Forwarded-For` is honoured only with TRUSTED_PROXY_COUNT > 0, and then only the hop the
    outermost trusted proxy appended: anything further left is whatever the client sent. With
    fewer hops than proxies the client reached an inner proxy, which appended the first hop.
    """
    proxies = settings.TRUSTED_PROXY_COUNT
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    hops = [hop.strip() for hop in forwarded.split(",")] if proxies > 0 and forwarded else []
    if hops and hops[-min(proxies, len(hops))]:
        return hops[-min(proxies, len(hops))]
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def page_refused(request, error: ApplicationError) -> None:
    """Mark a page request as refused by a limit: RateLimitedPagesMiddleware answers 429."""
    request.rate_limited = error


class RateLimitedPagesMiddleware:
    """A page that re-shows its form after a limit refused it answers 429 with Retry-After.

    Forms (sign-in, sign-up, password reset, the admin's sign-in) show the message to the person;
    the status and header tell browsers, scripts and monitoring the same as the API does.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        error = getattr(request, "rate_limited", None)
        if error is not None and response.status_code == 200:
            response.status_code = 429
            response.reason_phrase = "Too Many Requests"
            for name, value in error.headers.items():
                response[name] = value
        return response
