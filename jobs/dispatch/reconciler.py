"""The reconciler: the database is the truth, so re-drive whatever a lost task left behind.

One pass (every RECONCILE_INTERVAL) requeues jobs whose dispatch lease expired, re-enqueues
mirroring, polls jobs whose provider has been silent for POLL_AFTER seconds, renews slot
leases from the database, keeps idle providers warm and dispatches waiting jobs. A lost task,
a SIGKILLed worker or a Redis restart is recovered within one pass after its lease ends; the
copy requests a Redis restart took along, within one pass of it.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

import redis
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from jobs.dispatch import breaker, line_rank, slots
from jobs.dispatch import redis as dispatch_redis
from jobs.dispatch.engine import dispatch_pending
from jobs.dispatch.wakeup import (
    MIRROR_LEASE_SECONDS,
    enqueue,
    request_poll,
    wait_for_wakeup,
)
from jobs.models import (
    AT_PROVIDER_STATUSES,
    BreakerState,
    IdempotencyKey,
    Job,
    JobStatus,
    ProviderState,
    WebhookInbox,
)
from jobs.services.dispatch import job_requeue, submission_reference
from jobs.services.outputs import job_request_copy
from jobs.services.provider_events import (
    WAITING,
    job_adopt_announced_submission,
    webhook_cancel_orphan,
)
from jobs.services.selfies import upload_purge_expired
from providers.exceptions import ProviderNotConfigured
from providers.registry import get_backend

logger = logging.getLogger(__name__)

POLL_BACKOFF_CAP_SECONDS = 60.0
POLL_ONLY_INTERVAL_SECONDS = 2.0
POLL_ONLY_CAP_SECONDS = 10.0


def poll_after_seconds(provider: str) -> float:
    """Silence after which a job is polled: POLL_AFTER when webhooks tell us everything, a few
    seconds when they don't (none configured, or only the final result: progress comes by poll)."""
    try:
        backend = get_backend(provider)
    except ProviderNotConfigured:
        return settings.POLL_AFTER
    if backend.config["WEBHOOKS"] and backend.supports_webhooks and \
            backend.webhooks_report_progress:
        return settings.POLL_AFTER
    return POLL_ONLY_INTERVAL_SECONDS


def next_poll_delay(*, provider: str, poll_count: int) -> float:
    base = poll_after_seconds(provider)
    cap = POLL_ONLY_CAP_SECONDS if base <= POLL_ONLY_INTERVAL_SECONDS else POLL_BACKOFF_CAP_SECONDS
    return min(cap, base * (1.5 ** min(poll_count, 10)))


def settle_announced_submissions() -> int:
    """Submissions named by their webhooks (?ref=) but not recorded, because their answer was
    lost: the job still waiting for one adopts it; one whose job moved on is canceled.
    Returns how many were adopted."""
    named = set(WebhookInbox.objects.filter(result=WAITING).exclude(reference="")
                .values_list("provider", "provider_job_id", "reference"))
    if not named:
        return 0
    dispatching = {submission_reference(job_id=job_id, attempt=attempt): (job_id, attempt, provider)
                   for job_id, attempt, provider in Job.objects.filter(
                       status=JobStatus.DISPATCHING).values_list("id", "attempts", "provider")}
    adopted = 0
    for provider, provider_job_id, reference in sorted(named):
        if reference in dispatching:
            job_id, attempt, job_provider = dispatching[reference]
            transition = job_adopt_announced_submission(
                job_id=job_id, attempt=attempt, provider=job_provider, source="reconciler")
            adopted += transition is not None and transition.applied
        else:
            webhook_cancel_orphan(provider=provider, provider_job_id=provider_job_id,
                                  reference=reference)
    return adopted


def recover_lost_dispatches(now) -> int:
    lost = Job.objects.filter(status=JobStatus.DISPATCHING, lease_until__lt=now)
    count = 0
    for job in lost:
        if job_requeue(job=job, reason="dispatch_lease_expired", head=True, attempt=job.attempts,
                       from_status=JobStatus.DISPATCHING):
            count += 1
    return count


# Present while Redis keeps its data; gone after a restart without persistence, a flush or a
# failover to an empty replica: then the copy requests waiting in Redis are gone too.
MIRROR_REQUESTS_KEPT = "mirror-requests-kept"


def recover_lost_mirrors(now) -> int:
    """Request again the copies whose lease ran out; after Redis lost its data, at once every
    copy not yet done, rather than two minutes (the copy lease) later. Of several dispatchers,
    the one that sets the marker again does it. A copy that was running then is superseded by
    the new one (fenced, services/outputs.py): done twice, recorded once. Returns how many
    requests Redis took; one it could not take is asked for again on the next pass."""
    lost = Q(lease_until__lt=now) | Q(lease_until__isnull=True)
    try:
        redis_was_reset = dispatch_redis.client().set(
            dispatch_redis.key(MIRROR_REQUESTS_KEPT), 1, nx=True)
    except redis.RedisError:  # unreachable: the leases still bring every copy back
        redis_was_reset = False
    if redis_was_reset:
        lost = Q()
    stale = Job.objects.filter(lost, status=JobStatus.SAVING)
    count = 0
    for job_id in stale.values_list("id", flat=True):
        Job.objects.filter(pk=job_id).update(
            lease_until=now + timedelta(seconds=MIRROR_LEASE_SECONDS))
        count += job_request_copy(job_id=job_id)
    return count


def poll_silent_jobs(now) -> int:
    """Webhooks get lost: poll jobs whose provider has said nothing for a while."""
    count = 0
    candidates = Job.objects.filter(status__in=AT_PROVIDER_STATUSES).exclude(provider_job_id="").filter(
        Q(not_before__isnull=True) | Q(not_before__lte=now))
    for job in candidates.only("id", "provider", "poll_count", "last_provider_news_at"):
        silent_since = job.last_provider_news_at or now
        if (now - silent_since).total_seconds() < poll_after_seconds(job.provider):
            continue
        delay = next_poll_delay(provider=job.provider, poll_count=job.poll_count)
        Job.objects.filter(pk=job.id).update(not_before=now + timedelta(seconds=delay))
        request_poll(job_id=job.id)
        count += 1
    return count


def fail_over_stranded_jobs(now) -> int:
    """A job silent for STRANDED_AFTER at a provider whose circuit is open goes elsewhere.

    Its old submission is canceled first where the provider supports it, so a job is never
    rendering at two providers at once (a late result from the old one is ignored).
    """
    down = list(ProviderState.objects.filter(breaker_state=BreakerState.OPEN)
                .values_list("name", flat=True))
    if not down:
        return 0
    silent_since = now - timedelta(seconds=settings.STRANDED_AFTER)
    stranded = Job.objects.filter(status__in=AT_PROVIDER_STATUSES, provider__in=down,
                                  last_provider_news_at__lt=silent_since)
    count = 0
    for job in stranded:
        if job_requeue(job=job, reason="provider_down", head=True, attempt=job.attempts,
                       cancel_old=True, avoid_provider=job.provider):
            count += 1
    return count


def keep_warm(now) -> None:
    """Ping providers idle longer than KEEP_WARM_IDLE while demand is expected."""
    recent_demand = Job.objects.filter(
        Q(status=JobStatus.QUEUED) | Q(created_at__gte=now - timedelta(minutes=15))).exists()
    if not recent_demand:
        return
    for name in settings.PROVIDERS:
        state = breaker.provider_state(name)
        idle = timedelta(seconds=state.keep_warm_idle or settings.KEEP_WARM_IDLE)
        last_active = max(filter(None, [state.last_submit_at, state.last_warmup_at]),
                          default=None)
        if not state.enabled or (last_active and now - last_active < idle):
            continue
        ProviderState.objects.filter(pk=state.pk).update(last_warmup_at=now)
        enqueue("jobs.tasks.warm_up_provider", name, name=f"warm-{name}")
        logger.info("provider %s idle: keep-warm requested", name)


def purge_expired(now) -> None:
    """Forget what no one can use any more: old idempotency keys, inbox rows, unclaimed uploads."""
    IdempotencyKey.objects.filter(created_at__lt=now - timedelta(hours=24)).delete()
    WebhookInbox.objects.filter(received_at__lt=now - timedelta(days=7)).delete()
    upload_purge_expired(now=now - timedelta(hours=1))


def reconcile_once() -> dict[str, int]:
    """One full pass; returns what it did (for logs and tests)."""
    now = timezone.now()
    report = {
        "adopted": settle_announced_submissions(),
        "requeued": recover_lost_dispatches(now),
        "mirrors": recover_lost_mirrors(now),
        "polls": poll_silent_jobs(now),
        "failed_over": fail_over_stranded_jobs(now),
    }
    slots.resync_all()
    line_rank.resync()
    keep_warm(now)
    purge_expired(now)
    report["dispatched"] = dispatch_pending()
    return report


def run_forever(*, interval: float | None = None, stop=None) -> None:
    """The dispatcher process: dispatch on every wake-up, reconcile every `interval` seconds."""
    interval = interval or settings.RECONCILE_INTERVAL
    next_pass = 0.0
    while stop is None or not stop.is_set():
        try:
            if time.monotonic() >= next_pass:
                report = reconcile_once()
                if any(report.values()):
                    logger.info("reconcile: %s", report)
                next_pass = time.monotonic() + interval
            if wait_for_wakeup(timeout=min(1.0, interval)):
                while dispatch_pending():
                    pass
        except Exception:  # Redis or the database restarting: wait and carry on
            logger.exception("dispatcher pass failed; retrying")
            time.sleep(1.0)
