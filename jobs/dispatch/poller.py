"""Polling fallback: ask the provider about a job whose webhooks have not arrived."""

from __future__ import annotations

import logging

from django.db.models import F

from jobs.dispatch import breaker
from jobs.dispatch.provider_events import job_apply_provider_event
from jobs.logs import about_job
from jobs.models import Job, JobStatus

logger = logging.getLogger(__name__)
AT_PROVIDER = (JobStatus.SUBMITTED, JobStatus.WARMING, JobStatus.RENDERING)


@about_job
def poll_job(*, job_id) -> None:
    from providers.exceptions import PermanentError, ProviderError, RateLimited
    from providers.registry import get_backend

    job = Job.objects.filter(pk=job_id, status__in=AT_PROVIDER).exclude(provider_job_id="").first()
    if job is None:
        return
    Job.objects.filter(pk=job.id).update(poll_count=F("poll_count") + 1)
    try:
        event = get_backend(job.provider).fetch_status(job.provider_job_id)
    except PermanentError as error:  # the provider no longer knows the job: run it again
        logger.warning("job %s: provider lost %s (%s); requeueing", job.id,
                       job.provider_job_id, error)
        from jobs.dispatch.engine import requeue

        requeue(job, reason="provider_lost_job", attempt=job.attempts)
        return
    except RateLimited:  # the next pass polls again, later
        return
    except ProviderError as error:  # 5xx/timeout: a sign the provider is down
        logger.info("job %s: poll failed: %s", job.id, error)
        breaker.record_failure(job.provider, reason=f"poll: {error}")
        return
    breaker.record_poll_success(job.provider)
    job_apply_provider_event(event=event, source="poller")
