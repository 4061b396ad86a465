"""Dispatch: take queued jobs in fair-share order, give each a provider slot, submit it.

`dispatch_pending` (in the dispatcher process) assigns jobs to providers with free slots and
enqueues `submit_job` (in a worker), which makes the one HTTP call. The job's `attempts`
fences each submission: a superseded task finds a different count and does nothing.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from jobs.dispatch import breaker, slots
from jobs.dispatch.limits import provider_limits
from jobs.dispatch.wakeup import enqueue, request_dispatch, request_provider_cancel
from jobs.line import HEAD_ROUND, line_key
from jobs.logs import about_job
from jobs.models import Job, JobStatus, ProviderState
from jobs.s3 import signed_url
from jobs.selectors import queued_jobs_in_dispatch_order
from jobs.services.transitions import job_transition
from jobs.styles import style_get

logger = logging.getLogger(__name__)

TRANSIENT_BASE_SECONDS = 0.5
TRANSIENT_CAP_SECONDS = 15.0
SELFIE_URL_SECONDS = 3600


def available_providers() -> list[tuple[str, int]]:
    """[(name, limit)] of providers that may take new jobs now, preferred first."""
    from providers.registry import provider_names

    limits = provider_limits()
    states = {state.name: state for state in ProviderState.objects.filter(name__in=limits)}
    now = timezone.now()
    available = []
    for name in provider_names():
        if name not in limits:
            continue
        state = states.get(name) or breaker.provider_state(name)
        if breaker.can_submit(state, now=now):
            available.append((name, limits[name]))
    return available


def dispatch_lease_seconds(provider: str) -> float:
    """How long a submission may take before the reconciler assumes its worker is gone."""
    from providers.registry import get_config

    timeouts = get_config(provider)["TIMEOUTS"]
    return sum(float(timeouts.get(part, 0) or 0) for part in ("connect", "read", "write")) + 30


def dispatch_pending(*, max_jobs: int = 100) -> int:
    """Assign waiting jobs to free provider slots; returns how many were dispatched."""
    providers = [(name, limit) for name, limit in available_providers()
                 if slots.in_use(provider=name) < limit]
    if not providers:
        return 0
    now = timezone.now()
    candidates = (queued_jobs_in_dispatch_order(ready_at=now)
                  .only("id", "attempts", "avoid_provider")[:max_jobs])
    dispatched = 0
    for job in candidates:
        provider = _take_slot(job, providers)
        if provider is None:
            break  # every provider is full: the next free slot wakes us again
        attempt = job.attempts + 1
        lease = now + timedelta(seconds=dispatch_lease_seconds(provider))
        transition = job_transition(
            job_id=job.id, status=JobStatus.DISPATCHING, source="dispatcher",
            expect={"status": JobStatus.QUEUED},
            fields={"provider": provider, "attempts": attempt, "lease_until": lease,
                    "not_before": None})
        if not transition.applied:  # canceled meanwhile, or another dispatcher took it
            slots.release(provider=provider, job_id=job.id)
            continue
        breaker.begin_probe_if_open(provider)
        _enqueue_submit(job.id, attempt)
        dispatched += 1
    return dispatched


def _take_slot(job: Job, providers: list[tuple[str, int]]) -> str | None:
    """The first provider with a free slot; the one that just failed this job goes last."""
    ordered = sorted(providers, key=lambda item: item[0] == job.avoid_provider)
    for name, limit in ordered:
        if slots.acquire(provider=name, job_id=job.id, limit=limit):
            return name
    return None


_submit_pool: ThreadPoolExecutor | None = None


def use_submit_threads(max_workers: int) -> None:
    """In the dispatcher process: make submissions on its own threads instead of via the task
    queue, so a freed slot is refilled in milliseconds even while workers copy videos. Work lost
    with the process is taken back by the reconciler when its dispatch lease ends."""
    global _submit_pool
    _submit_pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="submit")


def _enqueue_submit(job_id, attempt: int) -> None:
    if _submit_pool is not None and not settings.TASKS_RUN_INLINE:
        _submit_pool.submit(_submit_on_thread, job_id, attempt)
        return
    enqueue("jobs.tasks.submit_job", str(job_id), attempt, name=f"submit-{job_id}-{attempt}")


@about_job
def _submit_on_thread(job_id, attempt: int) -> None:
    try:
        submit_job(job_id=job_id, attempt=attempt)
    except Exception:  # the reconciler re-drives the job once its dispatch lease ends
        logger.exception("submission of %s failed", job_id)
    finally:
        close_old_connections()


@about_job
def submit_job(*, job_id, attempt: int) -> None:
    """Send one assigned job to its provider and record the outcome (runs in a worker)."""
    from providers.exceptions import (
        PermanentError,
        ProviderNotConfigured,
        RateLimited,
        TransientError,
    )
    from providers.registry import get_backend

    job = Job.objects.select_related("selfie").filter(pk=job_id).first()
    if job is None or job.status != JobStatus.DISPATCHING or job.attempts != attempt:
        return  # superseded: requeued and re-dispatched, or canceled
    provider = job.provider
    if job.selfie is None:
        _fail(job, code="selfie_deleted", message="The selfie for this video was deleted.")
        return
    style = style_get(job.style)
    try:
        submission = get_backend(provider).submit(
            image_url=signed_url(job.selfie.image.name, seconds=SELFIE_URL_SECONDS),
            prompt=style.prompt if style else job.style, style=style.title if style else "",
            webhook_url=f"{settings.PUBLIC_BASE_URL}/webhooks/{provider}/",
            reference=str(job.id))
    except RateLimited as error:
        breaker.record_rate_limited(provider, retry_after=error.retry_after)
        requeue(job, reason="rate_limited", head=True, attempt=attempt)
        return
    except TransientError as error:
        breaker.record_failure(provider, reason=str(error))
        # Another healthy provider takes it at once; with none, back off before retrying.
        alternatives = [name for name, _ in available_providers() if name != provider]
        delay = None if alternatives else breaker.full_jitter_backoff(
            attempt, base=TRANSIENT_BASE_SECONDS, cap=TRANSIENT_CAP_SECONDS)
        requeue(job, reason="transient_error", delay=delay, attempt=attempt,
                avoid_provider=provider)
        return
    except (PermanentError, ProviderNotConfigured) as error:
        message = getattr(error, "user_message", "The video could not be generated.")
        _fail(job, code=getattr(error, "code", "provider_misconfigured"), message=message,
              attempt=attempt)
        return

    transition = job_transition(
        job_id=job.id, status=JobStatus.SUBMITTED, source="dispatcher",
        expect={"attempts": attempt, "status": JobStatus.DISPATCHING},
        fields={"provider_job_id": submission.provider_job_id, "lease_until": None,
                "last_provider_news_at": timezone.now()})
    breaker.record_success(provider)
    if not transition.applied:  # canceled while we were submitting: undo at the provider
        request_provider_cancel(job_id=job.id, provider=provider,
                                provider_job_id=submission.provider_job_id)
        return
    from jobs.dispatch.provider_events import (
        job_apply_provider_event,
        job_apply_waiting_webhooks,
    )

    if submission.event is not None:
        job_apply_provider_event(event=submission.event, source="dispatcher")
    # Webhooks that beat our commit (fast renders, slow commits) are applied now, not by a poll.
    job_apply_waiting_webhooks(provider=provider, provider_job_id=submission.provider_job_id)


def requeue(job: Job, *, reason: str, head: bool = False, delay: float | None = None,
            attempt: int | None = None, cancel_old: bool = False,
            avoid_provider: str = "") -> bool:
    """Put a job back in line (not a failure), free its slot and wake the dispatcher.

    It keeps its place in line (an early one: it was dispatched), or with `head` goes first.
    """
    old_provider, old_provider_job_id = job.provider, job.provider_job_id
    fields = {"provider": "", "provider_job_id": "", "lease_until": None,
              "avoid_provider": avoid_provider,
              "not_before": timezone.now() + timedelta(seconds=delay) if delay else None}
    if head:
        fields["line_key"] = line_key(round_=HEAD_ROUND, at=timezone.now())
    transition = job_transition(
        job_id=job.id, status=JobStatus.QUEUED, source="dispatcher", requeue=True,
        detail={"reason": reason},
        expect={"attempts": attempt} if attempt is not None else None, fields=fields)
    if old_provider:
        slots.release(provider=old_provider, job_id=job.id)
    if transition.applied and cancel_old and old_provider_job_id:
        request_provider_cancel(job_id=job.id, provider=old_provider,
                                provider_job_id=old_provider_job_id)
    request_dispatch()
    return transition.applied


def _fail(job: Job, *, code: str, message: str, attempt: int | None = None) -> None:
    job_transition(job_id=job.id, status=JobStatus.FAILED, source="dispatcher",
                   expect={"attempts": attempt} if attempt is not None else None,
                   fields={"error_code": code, "error_message": message[:500]},
                   detail={"error": code})


@about_job
def cancel_at_provider(*, job_id, provider: str, provider_job_id: str) -> None:
    """Tell the provider to stop a submission we no longer want, then free the slot."""
    from providers.exceptions import ProviderError
    from providers.registry import get_backend

    try:
        get_backend(provider).cancel(provider_job_id)
    except ProviderError as error:
        logger.warning("cancel of %s at %s failed: %s", provider_job_id, provider, error)
    finally:
        job = Job.objects.filter(pk=job_id).only("provider", "status").first()
        if job is None or job.status == JobStatus.CANCELED or job.provider != provider:
            slots.release(provider=provider, job_id=job_id)
        request_dispatch()
