"""Polling fallback: ask the provider about a job whose webhooks have not arrived."""

from __future__ import annotations

import logging

from django.db.models import F

from jobs.dispatch import breaker
from jobs.logs import about_job
from jobs.models import AT_PROVIDER_STATUSES, Job
from jobs.ops import counters
from jobs.services.dispatch import job_requeue
from jobs.services.provider_events import job_apply_provider_event
from providers.exceptions import PermanentError, ProviderError, RateLimited
from providers.registry import get_backend

logger = logging.getLogger(__name__)


@about_job
def poll_job(*, job_id) -> None:
    job = (Job.objects.filter(pk=job_id, status__in=AT_PROVIDER_STATUSES)
           .exclude(provider_job_id="").first())
    if job is None:
        return
    Job.objects.filter(pk=job.id).update(poll_count=F("poll_count") + 1)
    try:
        event = get_backend(job.provider).fetch_status(job.provider_job_id)
    except PermanentError as error:  # the provider no longer knows the job: run it again
        counters.count_provider_response(job.provider, error)
        logger.warning("job %s: provider lost %s (%s); requeueing", job.id,
                       job.provider_job_id, error)
        job_requeue(job=job, reason="provider_lost_job", attempt=job.attempts)
        return
    except RateLimited as error:  # the next pass polls again, later
        counters.count_provider_response(job.provider, error)
        return
    except ProviderError as error:  # 5xx/timeout: a sign the provider is down
        counters.count_provider_response(job.provider, error)
        logger.info("job %s: poll failed: %s", job.id, error)
        breaker.record_failure(job.provider, reason=f"poll: {error}")
        return
    counters.count_provider_response(job.provider)
    breaker.record_poll_success(job.provider)
    job_apply_provider_event(event=event, source="poller")
