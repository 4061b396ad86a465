"""The circuit breaker: closed → open after N failures → half-open probe → closed."""

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.dispatch import breaker
from jobs.models import BreakerState, ProviderState

pytestmark = pytest.mark.django_db


@pytest.fixture
def fast_breaker(settings):
    settings.BREAKER_FAILURE_THRESHOLD = 3
    settings.BREAKER_COOLDOWN_SECONDS = 30


def state():
    return ProviderState.objects.get(name="p")


def test_opens_after_consecutive_failures_only(fast_breaker):
    breaker.record_failure("p", reason="x")
    breaker.record_failure("p", reason="x")
    breaker.record_success("p")
    breaker.record_failure("p", reason="x")
    breaker.record_failure("p", reason="x")
    assert state().breaker_state == BreakerState.CLOSED
    breaker.record_failure("p", reason="x")
    assert state().breaker_state == BreakerState.OPEN
    assert not breaker.can_submit(state())


def test_half_open_probe_then_close_or_reopen(fast_breaker):
    for _ in range(3):
        breaker.record_failure("p", reason="x")
    ProviderState.objects.filter(name="p").update(
        opened_at=timezone.now() - timedelta(seconds=31))
    assert breaker.can_submit(state())
    breaker.begin_probe_if_open("p")
    assert state().breaker_state == BreakerState.HALF_OPEN
    assert not breaker.can_submit(state())  # one probe at a time
    breaker.record_failure("p", reason="probe failed")
    assert state().breaker_state == BreakerState.OPEN
    ProviderState.objects.filter(name="p").update(
        opened_at=timezone.now() - timedelta(seconds=31))
    breaker.begin_probe_if_open("p")
    breaker.record_success("p")
    assert state().breaker_state == BreakerState.CLOSED


def test_429_pauses_without_counting_as_failure(fast_breaker):
    delay = breaker.record_rate_limited("p", retry_after=7)
    assert delay == 7
    current = state()
    assert current.consecutive_failures == 0
    assert current.paused_until > timezone.now() + timedelta(seconds=6)
    assert not breaker.can_submit(current)


def test_429_without_retry_after_backs_off_with_jitter(fast_breaker):
    delays = [breaker.record_rate_limited("p", retry_after=None) for _ in range(6)]
    assert all(0 <= d <= breaker.RATE_LIMIT_CAP_SECONDS for d in delays)
    assert len(set(delays)) > 1


def test_disabled_provider_takes_nothing(fast_breaker):
    ProviderState.objects.create(name="p", enabled=False)
    assert not breaker.can_submit(state())
