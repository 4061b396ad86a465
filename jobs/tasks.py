"""django-q2 entry points: each takes ids, loads, and calls one function of the engine."""

from __future__ import annotations

import logging

from jobs.dispatch import engine, mirror, poller
from providers.exceptions import ProviderError
from providers.registry import get_backend

logger = logging.getLogger(__name__)


def submit_job(job_id: str, attempt: int) -> None:
    engine.submit_job(job_id=job_id, attempt=attempt)


def poll_job(job_id: str) -> None:
    poller.poll_job(job_id=job_id)


def mirror_output(job_id: str) -> None:
    mirror.mirror_output(job_id=job_id)


def cancel_at_provider(job_id: str, provider: str, provider_job_id: str) -> None:
    engine.cancel_at_provider(job_id=job_id, provider=provider, provider_job_id=provider_job_id)


def warm_up_provider(name: str) -> None:
    try:
        get_backend(name).warm_up()
    except ProviderError as error:  # keep-warm is best effort; the breaker sees real jobs
        logger.info("keep-warm of %s failed: %s", name, error)
