"""Wake the dispatcher at once (a hint; its periodic pass recovers any lost wake-up)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.utils.module_loading import import_string

from jobs.dispatch import redis as dispatch_redis

logger = logging.getLogger(__name__)
WAKE_LIST = "wake"


def request_dispatch() -> None:
    """Tell the dispatcher that a job is waiting or a slot is free."""
    try:
        pipe = dispatch_redis.client().pipeline()
        pipe.lpush(dispatch_redis.key(WAKE_LIST), 1)
        pipe.ltrim(dispatch_redis.key(WAKE_LIST), 0, 0)  # many wake-ups collapse into one
        pipe.execute()
    except Exception:  # the reconciler's next pass dispatches anyway
        logger.warning("could not wake the dispatcher", exc_info=True)


def wait_for_wakeup(timeout: float) -> bool:
    """Block up to `timeout` seconds for a wake-up; True if one came."""
    result = dispatch_redis.client().blpop([dispatch_redis.key(WAKE_LIST)], timeout=timeout)
    return result is not None


def enqueue(task: str, *args, name: str) -> None:
    """Hand a task to the workers; TASKS_RUN_INLINE (tests) runs it right here instead."""
    if getattr(settings, "TASKS_RUN_INLINE", False):
        import_string(task)(*args)
        return
    from django_q.tasks import async_task

    async_task(task, *args, task_name=name)


def request_provider_cancel(*, job_id, provider: str, provider_job_id: str) -> None:
    """Cancel a submission at its provider in a worker, then free its slot."""
    enqueue("jobs.tasks.cancel_at_provider", str(job_id), provider, provider_job_id,
            name=f"cancel-{job_id}")


def request_mirror(*, job_id) -> None:
    """Copy a finished video into our bucket in a worker."""
    enqueue("jobs.tasks.mirror_output", str(job_id), name=f"mirror-{job_id}")


def request_poll(*, job_id) -> None:
    enqueue("jobs.tasks.poll_job", str(job_id), name=f"poll-{job_id}")
