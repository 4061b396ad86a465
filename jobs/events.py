"""Publishes job events to the channel layer: one typed helper, as the workers' only door."""

from __future__ import annotations

import logging
from typing import NotRequired, TypedDict

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


class JobEventMessage(TypedDict):
    type: str  # "job.event": consumers handle it in job_event()
    job_id: str
    user_id: int
    seq: int
    status: str
    stage: str
    progress: float
    at: str
    reason: NotRequired[str]  # why the engine moved the job, e.g. "rate_limited", "provider_down"
    error: NotRequired[dict | None]
    video_url: NotRequired[str | None]


def job_group(job_id) -> str:
    return f"job.{job_id}"


def user_group(user_id) -> str:
    return f"user.{user_id}"


def send_job_event(message: JobEventMessage) -> None:
    """Send to the job's group and its owner's group; a Redis outage must not break a job."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(_send_both)(layer, message)
    except Exception:  # the timeline in the database stays complete; clients catch up from it
        logger.warning("could not publish event %s#%s", message["job_id"], message["seq"],
                       exc_info=True)


async def _send_both(layer, message: JobEventMessage) -> None:
    await layer.group_send(job_group(message["job_id"]), message)
    await layer.group_send(user_group(message["user_id"]), message)
