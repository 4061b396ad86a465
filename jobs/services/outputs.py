"""The writes of a result copy: a copy claims the job, and only the latest claim may finish it."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from jobs.dispatch.wakeup import request_mirror
from jobs.models import Job, JobStatus
from jobs.s3 import object_size
from jobs.services.dispatch import job_fail
from jobs.services.transitions import Transition, job_transition


def job_request_copy(*, job_id) -> bool:
    """Ask a copier for the job's video. If Redis cannot take the request (restarting,
    unreachable), end the job's copy lease so that the reconciler's next pass asks again
    instead of two minutes later. False when the request was not made."""
    if request_mirror(job_id=job_id):
        return True
    Job.objects.filter(pk=job_id, status=JobStatus.SAVING).update(lease_until=timezone.now())
    return False


def job_claim_copy(*, job_id, lease_seconds: float) -> Job | None:
    """Start a copy of a job's result: the job (its copy_attempts is this copy's token), or
    None when it is no longer waiting for one.

    A later claim (the reconciler's, or a duplicate request) supersedes this one: the copy
    fenced off deletes what it stored instead of finishing the job.
    """
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id, status=JobStatus.SAVING).first()
        if job is None:
            return None
        job.copy_attempts += 1
        job.lease_until = timezone.now() + timedelta(seconds=lease_seconds)
        job.save(update_fields=["copy_attempts", "lease_until", "updated_at"])
    return job


def job_record_output(*, job_id, attempt: int, key: str,
                      poster_key: str = "") -> Transition | None:
    """The copy `attempt` stored the video at `key` (and its poster frame at `poster_key`): the
    job succeeds, if that copy still holds the job and the stored object is there. None:
    nothing is stored at `key`."""
    size = object_size(key)
    if size is None:  # a job never succeeds without its video
        return None
    return job_transition(job_id=job_id, status=JobStatus.SUCCEEDED, source="mirror",
                          expect={"copy_attempts": attempt},
                          fields={"output_key": key, "poster_key": poster_key,
                                  "lease_until": None},
                          detail={"bytes": size})


def job_fail_copy(*, job_id, attempt: int, code: str, message: str) -> Transition:
    """The copy `attempt` gives up on the job's result, unless a later copy has taken over."""
    return job_fail(job_id=job_id, code=code, message=message, source="mirror",
                    expect={"copy_attempts": attempt})
