"""The engine's reaction to job events: free the provider slot, wake the dispatcher, count."""

from __future__ import annotations

from jobs.dispatch import redis as dispatch_redis
from jobs.dispatch import slots
from jobs.dispatch.wakeup import request_dispatch
from jobs.models import TERMINAL_STATUSES, Job, JobEvent, JobStatus
from jobs.ops import counters


def on_job_event(*, job: Job, event: JobEvent) -> None:
    """Saving or finished: the provider no longer works on the job, so its slot is free.

    A canceled job that reached a provider keeps its slot until the cancel task has told the
    provider; the engine frees slots itself when it puts a job back in line.
    """
    finished_at_provider = event.status in (JobStatus.SAVING, JobStatus.SUCCEEDED,
                                            JobStatus.FAILED)
    canceled_before_submit = event.status == JobStatus.CANCELED and not job.provider_job_id
    if job.provider and (finished_at_provider or canceled_before_submit):
        free_slot(provider=job.provider, job_id=job.id)
    _count(job, event)


def free_slot(*, provider: str, job_id) -> None:
    """The provider no longer works on the job: free its slot and wake the dispatcher, in one
    round trip (freeing twice is harmless)."""
    with dispatch_redis.one_round_trip():
        slots.release(provider=provider, job_id=job_id)
        request_dispatch()


def _count(job: Job, event: JobEvent) -> None:
    """Totals and stage durations for /metrics (jobs/ops/metrics.py), kept in Redis."""
    if event.seq == 1:
        counters.count(counters.JOBS_CREATED, "all")
    if event.status not in TERMINAL_STATUSES:
        return
    counters.count(counters.JOBS_FINISHED, event.status)
    if event.status != JobStatus.SUCCEEDED or job.finished_at is None:
        return
    for stage, since, until in counters.stage_spans(job):
        counters.observe(stage, (until - since).total_seconds())
