"""Per-provider health: the circuit breaker (closed → open → half-open) and 429 pauses.

State lives in ProviderState rows, so every worker and the admin see the same thing.
"""

from __future__ import annotations

import logging
import random
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from jobs.models import BreakerState, ProviderState

logger = logging.getLogger(__name__)

RATE_LIMIT_BASE_SECONDS = 2.0
RATE_LIMIT_CAP_SECONDS = 120.0
# How fresh last_submit_at must be (keep-warm reads it in minutes): fewer writes under load.
ACTIVITY_RESOLUTION_SECONDS = 5.0


def provider_state(name: str) -> ProviderState:
    state, _ = ProviderState.objects.get_or_create(name=name)
    return state


def full_jitter_backoff(attempt: int, *, base: float, cap: float) -> float:
    """AWS's "full jitter": uniform(0, min(cap, base * 2**attempt))."""
    return random.uniform(0, min(cap, base * (2 ** max(0, attempt))))


def can_submit(state: ProviderState, *, now=None) -> bool:
    """Whether new jobs may go to this provider now (a half-open breaker admits one probe)."""
    now = now or timezone.now()
    if not state.enabled or (state.paused_until and state.paused_until > now):
        return False
    if state.breaker_state == BreakerState.CLOSED:
        return True
    if state.breaker_state == BreakerState.OPEN:
        return _cooldown_over(state, now)
    return False  # half-open: its one probe is in flight


def _cooldown_over(state: ProviderState, now) -> bool:
    cooldown = timedelta(seconds=settings.BREAKER_COOLDOWN_SECONDS)
    return state.opened_at is None or state.opened_at + cooldown <= now


def begin_probe_if_open(name: str) -> None:
    """Called when a job is assigned: an open breaker past its cool-down becomes half-open."""
    # Read first: a healthy provider (the usual case) costs no write lock per dispatch.
    if not ProviderState.objects.filter(name=name, breaker_state=BreakerState.OPEN).exists():
        return
    with transaction.atomic():
        state = ProviderState.objects.select_for_update().get(name=name)
        if state.breaker_state == BreakerState.OPEN and _cooldown_over(state, timezone.now()):
            state.breaker_state = BreakerState.HALF_OPEN
            state.save(update_fields=["breaker_state", "updated_at"])
            logger.warning("provider %s: circuit half-open, probing with one job", name)


def record_success(name: str) -> None:
    now = timezone.now()
    # A healthy provider is the usual case: refresh its activity time now and then with one
    # UPDATE instead of a locked read-modify-write per submission.
    healthy = ProviderState.objects.filter(
        name=name, breaker_state=BreakerState.CLOSED, consecutive_failures=0,
        rate_limit_streak=0, opened_at__isnull=True)
    if healthy.filter(last_submit_at__gte=now - timedelta(seconds=ACTIVITY_RESOLUTION_SECONDS)
                      ).exists():
        return
    if healthy.update(last_submit_at=now):
        return
    with transaction.atomic():
        state = ProviderState.objects.select_for_update().get_or_create(name=name)[0]
        if state.breaker_state != BreakerState.CLOSED:
            logger.warning("provider %s: circuit closed again", name)
        state.breaker_state = BreakerState.CLOSED
        state.consecutive_failures = 0
        state.rate_limit_streak = 0
        state.opened_at = None
        state.last_submit_at = now
        state.save()


def record_poll_success(name: str) -> None:
    """A provider that answers polls is up: reset its failure count (no write when healthy)."""
    unhealthy = ProviderState.objects.filter(name=name).exclude(
        breaker_state=BreakerState.CLOSED, consecutive_failures=0)
    if unhealthy.exists():
        record_success(name)


def record_failure(name: str, *, reason: str) -> None:
    """A transient failure: N in a row (or a failed probe) open the circuit."""
    with transaction.atomic():
        state = ProviderState.objects.select_for_update().get_or_create(name=name)[0]
        state.consecutive_failures += 1
        threshold = settings.BREAKER_FAILURE_THRESHOLD
        if state.breaker_state == BreakerState.HALF_OPEN or (
                state.breaker_state == BreakerState.CLOSED
                and state.consecutive_failures >= threshold):
            state.breaker_state = BreakerState.OPEN
            state.opened_at = timezone.now()
            logger.warning("provider %s: circuit OPEN after %s failures (%s)", name,
                           state.consecutive_failures, reason)
        elif state.breaker_state == BreakerState.OPEN:
            state.opened_at = timezone.now()
        state.save()


def record_rate_limited(name: str, *, retry_after: float | None) -> float:
    """Pause the provider until Retry-After (or a capped, jittered backoff); not a failure."""
    with transaction.atomic():
        state = ProviderState.objects.select_for_update().get_or_create(name=name)[0]
        if retry_after is None:
            delay = full_jitter_backoff(state.rate_limit_streak, base=RATE_LIMIT_BASE_SECONDS,
                                        cap=RATE_LIMIT_CAP_SECONDS)
        else:
            delay = min(float(retry_after), RATE_LIMIT_CAP_SECONDS * 5)
        state.rate_limit_streak += 1
        until = timezone.now() + timedelta(seconds=delay)
        if not state.paused_until or state.paused_until < until:
            state.paused_until = until
        if state.breaker_state == BreakerState.HALF_OPEN:  # the probe got an answer: alive
            state.breaker_state = BreakerState.CLOSED
            state.consecutive_failures = 0
        state.save()
    logger.info("provider %s: rate limited, paused for %.1fs", name, delay)
    return delay
