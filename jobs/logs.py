"""Log context for lines about a job: job_id, provider and user_id (see common/logs.py)."""

from __future__ import annotations

import functools
from contextlib import contextmanager

from common.logs import current_log_context, log_context
from jobs.models import Job


@contextmanager
def job_log_context(job: Job):
    """Every line logged inside the block carries the job's id, provider and owner."""
    with log_context(job_id=job.id, provider=job.provider or None, user_id=job.user_id):
        yield


def about_job(function):
    """Run `function(job_id, …)` (job_id first or as a keyword) inside its job's log context.

    The job's provider and owner cost one primary-key query, skipped when the caller already
    set the context for this job.
    """
    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        job_id = kwargs["job_id"] if "job_id" in kwargs else args[0]
        if current_log_context().get("job_id") == str(job_id):
            return function(*args, **kwargs)
        row = Job.objects.filter(pk=job_id).values_list("provider", "user_id").first()
        provider, user_id = row if row else (None, None)
        with log_context(job_id=job_id, provider=kwargs.get("provider") or provider or None,
                         user_id=user_id):
            return function(*args, **kwargs)
    return wrapper
