"""The engine's reaction to job events: free the provider slot, wake the dispatcher."""

from __future__ import annotations

from jobs.dispatch import slots
from jobs.dispatch.wakeup import request_dispatch
from jobs.models import Job, JobEvent, JobStatus


def on_job_event(*, job: Job, event: JobEvent) -> None:
    """Saving or finished: the provider no longer works on the job, so its slot is free.

    A canceled job that reached a provider keeps its slot until the cancel task has told the
    provider; the engine frees slots itself when it puts a job back in line.
    """
    finished_at_provider = event.status in (JobStatus.SAVING, JobStatus.SUCCEEDED,
                                            JobStatus.FAILED)
    canceled_before_submit = event.status == JobStatus.CANCELED and not job.provider_job_id
    if job.provider and (finished_at_provider or canceled_before_submit):
        slots.release(provider=job.provider, job_id=job.id)
        request_dispatch()
