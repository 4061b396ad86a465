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
from django.db import close_old_connections, transaction
from django.urls import reverse
from django.utils import timezone

from jobs.dispatch import breaker, slots
from jobs.dispatch import redis as dispatch_redis
from jobs.dispatch.limits import provider_limits, provider_order
from jobs.dispatch.wakeup import enqueue, request_dispatch, request_provider_cancel
from jobs.logs import about_job
from jobs.models import BreakerState, Job, JobStatus, ProviderState
from jobs.ops import counters
from jobs.s3 import signed_url
from jobs.selectors import queued_jobs_in_dispatch_order
from jobs.services.dispatch import (
    job_await_submission,
    job_fail,
    job_record_submission,
    job_requeue,
    submission_reference,
)
from jobs.services.provider_events import (
    job_adopt_announced_submission,
    job_apply_provider_event,
    job_apply_waiting_webhooks,
)
from jobs.services.transitions import job_transition
from jobs.styles import style_get
from providers.base import ProviderBackend
from providers.events import Submission
from providers.exceptions import (
    PermanentError,
    ProviderError,
    ProviderNotConfigured,
    RateLimited,
    TransientError,
)
from providers.registry import get_backend, get_config

logger = logging.getLogger(__name__)

TRANSIENT_BASE_SECONDS = 0.5
TRANSIENT_CAP_SECONDS = 15.0
SELFIE_URL_SECONDS = 3600
# How long a submission whose answer was lost may take to be named by a webhook before the
# job is submitted again: providers whose webhooks report progress announce a prediction at
# once; the others (WaveSpeed, fal) only call back when it is done (then STRANDED_AFTER).
ANNOUNCED_WITHIN_SECONDS = 30.0


def available_providers() -> list[tuple[str, int]]:
    """[(name, limit)] of providers that may take new jobs now, preferred first."""
    return [(name, limit) for name, limit, _ in _available_providers()]


def _available_providers() -> list[tuple[str, int, bool]]:
    """[(name, limit, probing)]: `probing` when its breaker is open and its next job a probe."""
    limits = provider_limits()
    states = {state.name: state for state in ProviderState.objects.filter(name__in=limits)}
    now = timezone.now()
    available = []
    for name in provider_order():
        if name not in limits:
            continue
        state = states.get(name) or breaker.provider_state(name)
        if breaker.can_submit(state, now=now):
            available.append((name, limits[name], state.breaker_state == BreakerState.OPEN))
    return available


def dispatch_lease_seconds(provider: str) -> float:
    """How long a submission may take before the reconciler assumes its worker is gone."""
    timeouts = get_config(provider)["TIMEOUTS"]
    return sum(float(timeouts.get(part, 0) or 0) for part in ("connect", "read", "write")) + 30


def dispatch_pending(*, max_jobs: int = 100) -> int:
    """Assign waiting jobs to free provider slots; returns how many were dispatched.

    The jobs that got a slot move to `dispatching` in one write transaction (on SQLite one
    turn of the write lock, not one per job: slots freed together, as a wave of renders
    finishing, were refilled one lock wait after another), and go out to their providers as
    it commits, before its events are told to the sockets and hooks.
    """
    limits = provider_limits()
    taken = slots.count_for_dispatch(limits)  # and marks "every slot taken" for newcomers
    if all(taken[name] >= limit for name, limit in limits.items()):
        # Every slot taken: one Redis round trip, no database read; a freed slot wakes us.
        return 0
    available = _available_providers()
    providers = [(name, limit) for name, limit, _ in available if taken[name] < limit]
    if not providers:
        return 0
    probing = {name for name, _, is_probe in available if is_probe}
    # As many of the line as there are free slots: usually one or two, as renders end one by
    # one (a hundred rows read and built per freed slot were a tenth of this pass).
    free = sum(limit - taken[name] for name, limit in providers)
    now = timezone.now()
    candidates = (queued_jobs_in_dispatch_order(ready_at=now)
                  .only("id", "attempts", "avoid_provider")[:min(max_jobs, free)])
    assigned = []
    for job in candidates:
        provider = _take_slot(job, providers)
        if provider is None:
            break  # every provider is full: the next free slot wakes us again
        assigned.append((job, provider))
    if not assigned:
        return 0
    dispatched = []  # (job, provider, attempt), moved to `dispatching`

    def send_out() -> None:
        for job, provider, attempt in dispatched:
            if provider in probing:
                breaker.begin_probe_if_open(provider)
            _enqueue_submit(job.id, attempt)

    # On commit, before the transitions' own hooks, so the submissions are on their way while
    # those events are published. Inline (TASKS_RUN_INLINE) a submission runs in this thread
    # and its events must follow this pass's: then after the pass.
    at_commit = not settings.TASKS_RUN_INLINE
    try:
        with dispatch_redis.one_round_trip(), transaction.atomic():
            if at_commit:
                transaction.on_commit(send_out, robust=True)
            for job, provider in assigned:
                attempt = job.attempts + 1
                lease = now + timedelta(seconds=dispatch_lease_seconds(provider))
                transition = job_transition(
                    job_id=job.id, status=JobStatus.DISPATCHING, source="dispatcher",
                    expect={"status": JobStatus.QUEUED},
                    fields={"provider": provider, "attempts": attempt, "lease_until": lease,
                            "not_before": None})
                if transition.applied:  # else canceled meanwhile, or another dispatcher took it
                    dispatched.append((job, provider, attempt))
    except BaseException:
        dispatched = []  # rolled back: none of them moved
        raise
    finally:
        moved = {job.id for job, _, _ in dispatched}
        for job, provider in assigned:
            if job.id not in moved:
                slots.release(provider=provider, job_id=job.id)
    if not at_commit:
        send_out()
    return len(dispatched)


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


def webhook_url(provider: str, reference: str) -> str:
    """Where the provider calls back; the query names the submission, so that one whose answer
    was lost can still be found (Replicate suggests query parameters for such metadata)."""
    path = reverse("provider-webhook", kwargs={"provider": provider})
    return f"{settings.PUBLIC_BASE_URL}{path}?ref={reference}"


@about_job
def submit_job(*, job_id, attempt: int) -> None:
    """Send one assigned job to its provider and record the outcome (runs in a worker)."""
    job = Job.objects.select_related("selfie").filter(pk=job_id).first()
    if job is None or job.status != JobStatus.DISPATCHING or job.attempts != attempt:
        return  # superseded: requeued and re-dispatched, or canceled
    provider = job.provider
    # Outcomes only apply to the job as we left it: one adopted meanwhile is not undone.
    fence = {"attempts": attempt, "status": JobStatus.DISPATCHING}
    if job.selfie is None:
        job_fail(job_id=job.id, code="selfie_deleted", source="dispatcher", expect=fence,
                 message="The selfie for this video was deleted.")
        return
    style = style_get(job.style)
    reference = submission_reference(job_id=job.id, attempt=attempt)
    try:
        backend = get_backend(provider)
        submission = backend.submit(
            image_url=signed_url(job.selfie.image.name, seconds=SELFIE_URL_SECONDS),
            prompt=style.prompt if style else job.style, style=style.title if style else "",
            webhook_url=webhook_url(provider, reference), reference=reference)
    except RateLimited as error:
        counters.count_provider_response(provider, error)
        breaker.record_rate_limited(provider, retry_after=error.retry_after)
        job_requeue(job=job, reason="rate_limited", head=True, attempt=attempt,
                    from_status=JobStatus.DISPATCHING)
        return
    except TransientError as error:
        counters.count_provider_response(provider, error)
        breaker.record_failure(provider, reason=str(error))
        if error.maybe_processed and _find_lost_submission(job, attempt, backend):
            return
        # Another healthy provider takes it at once; with none, back off before retrying.
        alternatives = [name for name, _ in available_providers() if name != provider]
        delay = None if alternatives else breaker.full_jitter_backoff(
            attempt, base=TRANSIENT_BASE_SECONDS, cap=TRANSIENT_CAP_SECONDS)
        job_requeue(job=job, reason="transient_error", delay=delay, attempt=attempt,
                    from_status=JobStatus.DISPATCHING, avoid_provider=provider)
        return
    except (PermanentError, ProviderNotConfigured) as error:
        if isinstance(error, PermanentError):
            counters.count_provider_response(provider, error)
        message = getattr(error, "user_message", "The video could not be generated.")
        job_fail(job_id=job.id, code=getattr(error, "code", "provider_misconfigured"),
                 message=message, source="dispatcher", expect=fence)
        return
    counters.count_provider_response(provider)
    breaker.record_success(provider)
    _record(job, attempt, submission)


def _record(job: Job, attempt: int, submission: Submission, *, adopted: bool = False) -> None:
    """Record the provider's id for the job and apply what is already known about it (the
    provider's answer, the webhooks that beat it) in one write transaction: on SQLite one turn
    of the write lock per submission instead of three, in the process that hands out slots."""
    provider = job.provider
    with dispatch_redis.one_round_trip(), transaction.atomic():
        transition = job_record_submission(
            job_id=job.id, attempt=attempt, provider=provider, source="dispatcher",
            provider_job_id=submission.provider_job_id, adopted=adopted)
        recorded = transition.applied or \
            transition.job.provider_job_id == submission.provider_job_id
        if recorded:
            _apply_known_news(provider, submission)
    if not recorded:  # canceled while we were submitting: undo at the provider
        request_provider_cancel(job_id=job.id, provider=provider,
                                provider_job_id=submission.provider_job_id)


def _apply_known_news(provider: str, submission: Submission) -> None:
    """In a savepoint: news that cannot be applied now must not undo the record (the webhooks
    stay waiting in the inbox; polls bring the rest)."""
    try:
        with transaction.atomic():
            if submission.event is not None:
                job_apply_provider_event(event=submission.event, source="dispatcher")
            # Webhooks that beat our commit (fast renders, slow commits) are applied now.
            job_apply_waiting_webhooks(provider=provider,
                                       provider_job_id=submission.provider_job_id)
    except Exception:
        logger.exception("could not apply the news of %s at %s", submission.provider_job_id,
                         provider)


def _find_lost_submission(job: Job, attempt: int, backend: ProviderBackend) -> bool:
    """The submission may have reached the provider although its answer was lost (a read
    timeout): find it rather than render (and bill) the video twice. True when the job is
    taken care of: adopted, or waiting for a webhook to name its submission."""
    reference = submission_reference(job_id=job.id, attempt=attempt)
    if backend.supports_lookup:
        try:
            event = backend.find_submission(reference)
        except ProviderError as error:
            logger.warning("job %s: cannot look up %s at %s: %s", job.id, reference,
                           job.provider, error)
        else:
            if event is None:
                return False  # the provider has none: submitting again is safe
            logger.info("job %s: adopted %s at %s after a lost answer", job.id,
                        event.provider_job_id, job.provider)
            _record(job, attempt, Submission(event.provider_job_id, event), adopted=True)
            return True
    if job_adopt_announced_submission(job_id=job.id, attempt=attempt, provider=job.provider,
                                      source="dispatcher") is not None:
        return True
    if not (backend.supports_webhooks and backend.config["WEBHOOKS"]):
        logger.warning("job %s: the answer from %s was lost and it cannot be looked up; "
                       "submitting again may render it twice", job.id, job.provider)
        return False
    wait = settings.STRANDED_AFTER
    if backend.webhooks_report_progress:
        wait = min(wait, ANNOUNCED_WITHIN_SECONDS)
    # The reconciler adopts it when a webhook names it, or requeues the job when this ends.
    return job_await_submission(job_id=job.id, attempt=attempt,
                                until=timezone.now() + timedelta(seconds=wait))


@about_job
def cancel_at_provider(*, job_id, provider: str, provider_job_id: str) -> None:
    """Tell the provider to stop a submission we no longer want, then free the slot."""
    try:
        get_backend(provider).cancel(provider_job_id)
    except ProviderError as error:
        logger.warning("cancel of %s at %s failed: %s", provider_job_id, provider, error)
    finally:
        job = Job.objects.filter(pk=job_id).only("provider", "status").first()
        if job is None or job.status == JobStatus.CANCELED or job.provider != provider:
            slots.release(provider=provider, job_id=job_id)
        request_dispatch()
