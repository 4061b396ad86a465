"""Publishes to the sockets: one typed message per job event, sent straight to Redis.

The message is built by the presenter (jobs/presenter.py), as every other view of a job is.

The channel layer is channels-redis's pub/sub layer: a group is a Redis pub/sub channel, and
every socket process subscribed to it fans the message out to its own sockets. Publishing is
therefore one PUBLISH per group, done here with the synchronous Redis client — no event loop,
thread or connection is created per message, as `async_to_sync(layer.group_send)` would.
"""

from __future__ import annotations

import logging
from typing import NotRequired, TypedDict

from channels.layers import get_channel_layer
from django.conf import settings

from jobs.dispatch import redis as dispatch_redis

logger = logging.getLogger(__name__)


class JobEventMessage(TypedDict):
    type: str  # "job.event": consumers handle it in job_event()
    job_id: str
    user_id: int
    seq: int
    status: str
    stage: str
    progress: float
    queue_position: None  # a queued job's place follows in a `queue.positions` message
    eta_seconds: int | None
    at: str
    reason: NotRequired[str]  # why the engine moved the job, e.g. "rate_limited", "provider_down"
    error: NotRequired[dict | None]
    video_url: NotRequired[str | None]


def job_group(job_id) -> str:
    return f"job.{job_id}"


def user_group(user_id) -> str:
    return f"user.{user_id}"


def _group_channel(group: str) -> str:
    # channels_redis.pubsub names a group's Redis channel "<prefix>__group__<group>".
    return f"{settings.CHANNEL_LAYERS['default']['CONFIG']['prefix']}__group__{group}"


def _publishing(messages: list[tuple[str, dict]]):
    """The PUBLISH commands of (group, message) pairs, to add to a pipeline."""
    layer = get_channel_layer()
    payloads = [(_group_channel(group), layer.serialize(message)) for group, message in messages]

    def commands(pipe) -> None:
        for channel, payload in payloads:
            pipe.publish(channel, payload)
    return commands


def publish(messages: list[tuple[str, dict]]) -> None:
    """Send each (group, message) to the sockets in that group, in one round trip.

    Raises on a Redis failure; callers decide whether that matters.
    """
    if not messages:
        return
    pipe = dispatch_redis.client().pipeline(transaction=False)
    _publishing(messages)(pipe)
    pipe.execute()


def send_job_event(message: JobEventMessage) -> None:
    """Send to the job's group and its owner's group, in the open one_round_trip() if any. A
    Redis outage must not break a job: the timeline in the database stays complete and clients
    catch up from it."""
    dispatch_redis.send(_publishing([(job_group(message["job_id"]), message),
                                     (user_group(message["user_id"]), message)]),
                        what=f"event {message['job_id']}#{message['seq']}")
