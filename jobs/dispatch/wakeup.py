"""Wake the dispatcher at once (a hint; its periodic pass recovers any lost wake-up)."""

from __future__ import annotations

import logging

from django.conf import settings

from common.tasks import enqueue
from jobs.dispatch import redis as dispatch_redis

logger = logging.getLogger(__name__)
WAKE_LIST = "wake"
# Set by the dispatcher's count when every slot is taken (jobs/dispatch/slots.py), cleared by
# its count when one is free. While it is set, a new job does not wake the dispatcher.
SLOTS_FULL = "slots-full"

# KEYS: wake list, full mark. Many wake-ups collapse into one list item.
_WAKE_UNLESS_FULL = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('LPUSH', KEYS[1], 1)
redis.call('LTRIM', KEYS[1], 0, 0)
return 1
"""


def request_dispatch(*, newcomer: bool = False) -> None:
    """Tell the dispatcher that a job is waiting (`newcomer`) or a slot may be free.

    A newcomer's wake-up is dropped while every slot is taken: under a spike each submission
    woke the dispatcher only for it to count the slots and find none (about a millisecond of
    its CPU each, thousands a minute). The job is not forgotten: every freed slot wakes the
    dispatcher, whose pass takes the head of the line.
    """
    keys = [dispatch_redis.key(WAKE_LIST), dispatch_redis.key(SLOTS_FULL)]

    def commands(pipe) -> None:
        if newcomer:
            pipe.eval(_WAKE_UNLESS_FULL, 2, *keys)
        else:
            pipe.lpush(keys[0], 1)
            pipe.ltrim(keys[0], 0, 0)

    # If Redis is down, the reconciler's next pass dispatches anyway.
    dispatch_redis.send(commands, what="the dispatcher's wake-up")


def wait_for_wakeup(timeout: float) -> bool:
    """Block up to `timeout` seconds for a wake-up; True if one came."""
    result = dispatch_redis.client().blpop([dispatch_redis.key(WAKE_LIST)], timeout=timeout)
    return result is not None


def request_provider_cancel(*, job_id, provider: str, provider_job_id: str) -> None:
    """Cancel a submission at its provider in a worker, then free its slot."""
    enqueue("jobs.tasks.cancel_at_provider", str(job_id), provider, provider_job_id,
            name=f"cancel-{job_id}")


MIRROR_LIST = "mirror"
# A job in `saving` is copied within this; then the reconciler requests its copy again.
MIRROR_LEASE_SECONDS = 120


def request_mirror(*, job_id) -> bool:
    """Copy a finished video into our bucket: on a dispatcher's copy threads (jobs/dispatch/
    copier.py), or in the caller with TASKS_RUN_INLINE. False when the request could not be
    made; a lost request is redone by the reconciler once the job's copy lease ends."""
    if settings.TASKS_RUN_INLINE:
        enqueue("jobs.tasks.mirror_output", str(job_id))
        return True
    try:
        dispatch_redis.client().lpush(dispatch_redis.key(MIRROR_LIST), str(job_id))
    except Exception:  # the reconciler re-requests copies whose lease ended
        logger.warning("could not request the copy of %s", job_id, exc_info=True)
        return False
    return True


def next_mirror(timeout: float) -> str | None:
    """Block up to `timeout` seconds for a copy request; the job id, or None."""
    result = dispatch_redis.client().brpop([dispatch_redis.key(MIRROR_LIST)], timeout=timeout)
    return result[1].decode() if result else None


def request_poll(*, job_id) -> None:
    enqueue("jobs.tasks.poll_job", str(job_id), name=f"poll-{job_id}")
