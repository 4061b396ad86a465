"""The engine's writes: a submission recorded, a job put back in line or failed."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone

from jobs.dispatch import slots
from jobs.dispatch.wakeup import request_dispatch, request_provider_cancel
from jobs.line import HEAD_ROUND, line_key
from jobs.models import SLOT_HOLDING_STATUSES, Job, JobStatus
from jobs.services.transitions import Transition, job_transition


def submission_reference(*, job_id, attempt: int) -> str:
    """Our name for one submission of a job: given to the provider, and back in webhook URLs."""
    return f"{job_id}.{attempt}"


def job_record_submission(*, job_id, attempt: int, provider: str, provider_job_id: str,
                          source: str, adopted: bool = False) -> Transition:
    """The provider has the job: `dispatching` becomes `submitted` with the provider's id.

    Fenced on the attempt: a submission that was superseded (requeued, canceled, or already
    recorded) changes nothing. `adopted` marks a submission whose answer was lost and which
    was found again, instead of being made twice.
    """
    return job_transition(
        job_id=job_id, status=JobStatus.SUBMITTED, source=source,
        expect={"attempts": attempt, "status": JobStatus.DISPATCHING, "provider": provider},
        fields={"provider_job_id": provider_job_id, "lease_until": None,
                "last_provider_news_at": timezone.now()},
        detail={"adopted": provider_job_id} if adopted else None)


def job_await_submission(*, job_id, attempt: int, until: datetime) -> bool:
    """Keep a job whose submission may have reached the provider (its answer was lost) in
    `dispatching`, holding its slot, until `until`: its webhooks may still name it. When the
    lease ends, the reconciler puts it back in line."""
    return bool(Job.objects.filter(pk=job_id, attempts=attempt, status=JobStatus.DISPATCHING)
                .update(lease_until=until))


def job_requeue(*, job: Job, reason: str, head: bool = False, delay: float | None = None,
                attempt: int | None = None, from_status: str | None = None,
                cancel_old: bool = False, avoid_provider: str = "") -> bool:
    """Put a job back in line (not a failure), free its slot and wake the dispatcher.

    It keeps its place in line (an early one: it was dispatched), or with `head` goes first.
    `attempt` and `from_status` fence it: a job that has moved on since is left alone.
    With `cancel_old`, the submission it leaves is canceled at its provider.
    """
    old_provider, old_provider_job_id = job.provider, job.provider_job_id
    fields = {"provider": "", "provider_job_id": "", "lease_until": None,
              "avoid_provider": avoid_provider,
              "not_before": timezone.now() + timedelta(seconds=delay) if delay else None}
    if head:
        fields["line_key"] = line_key(round_=HEAD_ROUND, at=timezone.now())
    expect = {}
    if attempt is not None:
        expect["attempts"] = attempt
    if from_status is not None:
        expect["status"] = from_status
    transition = job_transition(
        job_id=job.id, status=JobStatus.QUEUED, source="dispatcher", requeue=True,
        detail={"reason": reason}, expect=expect or None, fields=fields)
    current = transition.job  # as locked: a fenced-off job may hold the slot again
    still_holds = (not transition.applied and current.provider == old_provider
                   and current.status in SLOT_HOLDING_STATUSES)
    if old_provider and not still_holds:
        slots.release(provider=old_provider, job_id=job.id)
    if transition.applied and cancel_old and old_provider_job_id:
        request_provider_cancel(job_id=job.id, provider=old_provider,
                                provider_job_id=old_provider_job_id)
    request_dispatch()
    return transition.applied


def job_fail(*, job_id, code: str, message: str, source: str,
             expect: dict | None = None) -> Transition:
    """Fail a job for good with a code and a message the user reads (at most 500 characters).

    `expect` fences it, as in job_transition (e.g. the attempt that failed).
    """
    return job_transition(job_id=job_id, status=JobStatus.FAILED, source=source, expect=expect,
                          fields={"error_code": code, "error_message": message[:500]},
                          detail={"error": code})
