"""Fixtures shared by every test: a clean slate in Redis for each test, fake DNS answers."""

import socket

import pytest
import redis
from django.conf import settings

from project.testing.dns import FakeDNS


@pytest.fixture
def fake_dns(monkeypatch) -> FakeDNS:
    """Answers for the names a test gives (`fake_dns.answer(name, ...)`); others resolve as usual."""
    dns = FakeDNS()
    monkeypatch.setattr(socket, "getaddrinfo", dns.getaddrinfo)
    return dns


@pytest.fixture(autouse=True)
def _clean_redis_keys():
    """Delete this run's keys (never anyone else's) so throttles and slots don't leak."""
    from common.memo import forget_all
    from jobs.dispatch.limits import forget_cached_limits

    forget_cached_limits()
    forget_all()
    yield
    from notifications.sockets.queue_broadcast import wait_for_trailing_broadcasts

    # A trailing queue broadcast runs in a timer thread: let it end while the database exists
    # (generous: a pass can take seconds on a busy machine).
    wait_for_trailing_broadcasts(timeout=30)
    client = redis.Redis.from_url(settings.REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"*{settings.REDIS_PREFIX}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()
