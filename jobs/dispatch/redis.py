"""One Redis connection pool for the engine's slots, wake-ups and pauses."""

from __future__ import annotations

import functools

import redis
from django.conf import settings


@functools.lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5,
                                health_check_interval=30)


def client() -> redis.Redis:
    return _client(settings.REDIS_URL)


def key(*parts: str) -> str:
    return ":".join([settings.REDIS_PREFIX, "dispatch", *parts])
