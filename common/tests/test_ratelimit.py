"""The shared rate limits: fixed windows in Redis, and the one place that names the client."""

import threading

import pytest
from django.conf import settings
from django.test import RequestFactory
from rest_framework.throttling import BaseThrottle

from common.exceptions import ApplicationError
from common.ratelimit import (
    RateLimit,
    address_key,
    client_ip,
    rate_limit_clear,
    rate_limit_hit,
    rate_limit_refund,
)

RULE = RateLimit("test", 3, 600, "Slow down; wait {wait}.")


def test_the_attempt_beyond_the_limit_is_refused_with_the_time_left():
    for _ in range(3):
        rate_limit_hit(RULE, "k")
    with pytest.raises(ApplicationError) as refused:
        rate_limit_hit(RULE, "k")
    error = refused.value
    assert error.status_code == 429
    retry_after = int(error.headers["Retry-After"])
    assert 0 < retry_after <= 600 and error.extra == {"retry_after": retry_after}
    assert error.message == f"Slow down; wait {-(-retry_after // 60)} minutes."


def test_keys_are_counted_apart_and_case_blind():
    for _ in range(3):
        rate_limit_hit(RULE, "Ava@Example.com")
    with pytest.raises(ApplicationError):
        rate_limit_hit(RULE, "ava@example.com")
    rate_limit_hit(RULE, "bo@example.com")
    rate_limit_hit(RateLimit("other", 3, 600, ""), "ava@example.com")


def test_clear_starts_over():
    for _ in range(3):
        rate_limit_hit(RULE, "k")
    rate_limit_clear(RULE, "k")
    for _ in range(3):
        rate_limit_hit(RULE, "k")


def test_refused_attempts_never_extend_the_window():
    rule = RateLimit("short", 1, 2, "{wait}")
    rate_limit_hit(rule, "k")
    for _ in range(20):
        with pytest.raises(ApplicationError) as refused:
            rate_limit_hit(rule, "k")
        assert int(refused.value.headers["Retry-After"]) <= 2


def test_concurrent_attempts_never_pass_more_than_the_limit():
    """Counting is one atomic Redis round trip, so racing web threads share one budget."""
    passed, start = [], threading.Barrier(12)

    def attempt():
        start.wait()
        try:
            rate_limit_hit(RULE, "race")
            passed.append(1)
        except ApplicationError:
            pass

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(passed) == 3


@pytest.mark.parametrize(("address", "key"), [
    ("192.0.2.7", "192.0.2.7"),
    ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
    ("::ffff:192.0.2.7", "192.0.2.7"),
    ("unknown", "unknown"),
])
def test_address_key(address, key):
    assert address_key(address) == key


@pytest.mark.parametrize(("proxies", "forwarded", "expected"), [
    (0, "203.0.113.8", "10.0.0.1"),  # nobody trusted: the header is anyone's
    (1, "203.0.113.8, 192.0.2.5", "192.0.2.5"),  # what the proxy appended
    (1, "", "10.0.0.1"),  # reached the app around the proxy
    (2, "203.0.113.8, 192.0.2.5, 10.1.1.1", "192.0.2.5"),
    (2, "192.0.2.5", "192.0.2.5"),  # the client reached the inner proxy, which appended it
])
def test_client_ip_trusts_only_the_configured_proxies(settings, proxies, forwarded, expected):
    """The address limits count; DRF's throttles (NUM_PROXIES) name the same one."""
    settings.TRUSTED_PROXY_COUNT = proxies
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": proxies}
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded else {}
    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", **headers)
    assert client_ip(request) == expected
    assert BaseThrottle().get_ident(request) == expected


def test_drf_throttles_count_proxies_from_the_same_setting():
    assert settings.REST_FRAMEWORK["NUM_PROXIES"] == settings.TRUSTED_PROXY_COUNT


def test_a_refund_gives_one_attempt_back_but_never_revives_a_window():
    for _ in range(3):
        rate_limit_hit(RULE, "k")
    rate_limit_refund(RULE, "k")
    rate_limit_hit(RULE, "k")
    with pytest.raises(ApplicationError):
        rate_limit_hit(RULE, "k")
    rate_limit_refund(RULE, "never-counted")  # creates no key without a window
    for _ in range(3):
        rate_limit_hit(RULE, "never-counted")
    with pytest.raises(ApplicationError):
        rate_limit_hit(RULE, "never-counted")
