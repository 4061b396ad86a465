"""Operations counters in Redis, shared by every web, worker and dispatcher process.

Counters keep a running total (what Prometheus scrapes) and per-minute buckets that expire
after two hours (what the dashboard sums over 5 and 60 minutes). Histograms keep cumulative
bucket counts. Per-process gauges (open WebSockets) are one key per process with a short TTL,
so a process that dies stops counting within a minute and a half. Recording never raises:
a metric must not break a job.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time

import redis
from django.conf import settings

from jobs.dispatch import redis as dispatch_redis
from providers.exceptions import RateLimited, TransientError

logger = logging.getLogger(__name__)

BUCKET_TTL_SECONDS = 2 * 3600
GAUGE_TTL_SECONDS = 90
# Upper bounds (seconds) of the stage-duration histograms: a render takes seconds to minutes.
HISTOGRAM_BUCKETS = (1.0, 2.5, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
                     math.inf)

# Counter names (one source for writers and readers).
PROVIDER_RESPONSES = "provider_responses"  # label "<provider>:<class>"
WEBHOOKS = "webhooks"                      # label verified / refused / duplicate
JOBS_CREATED = "jobs_created"              # label "all"
JOBS_FINISHED = "jobs_finished"            # label succeeded / failed / canceled
WEBSOCKETS = "websockets"                  # per-process gauge
REQUESTS_SHED = "requests_shed"            # label waited / client_left (common/wsgi_threads.py)
RESPONSE_CLASSES = ("2xx", "4xx", "429", "5xx", "timeout")


def _key(*parts: str) -> str:
    return ":".join([settings.REDIS_PREFIX, "ops", *parts])


def _minute(at: float | None = None) -> int:
    return int((time.time() if at is None else at) // 60)


def count(name: str, label: str, amount: int = 1, *, at: float | None = None) -> None:
    """Add `amount` to counter `name{label}`: its total and this minute's bucket."""
    bucket = _key("minute", name, str(_minute(at)))

    def commands(pipe) -> None:
        pipe.hincrby(_key("total", name), label, amount)
        pipe.hincrby(bucket, label, amount)
        pipe.expire(bucket, BUCKET_TTL_SECONDS)
    dispatch_redis.send(commands, what=f"count {name}{{{label}}}")


def totals(name: str) -> dict[str, int]:
    """{label: total since Redis started} of counter `name`."""
    raw = dispatch_redis.client().hgetall(_key("total", name))
    return {label.decode(): int(value) for label, value in raw.items()}


def window(name: str, *, minutes: int, at: float | None = None) -> dict[str, int]:
    """{label: count} of counter `name` over the last `minutes` minutes (this one included)."""
    now = _minute(at)
    pipe = dispatch_redis.client().pipeline(transaction=False)
    for minute in range(now - minutes + 1, now + 1):
        pipe.hgetall(_key("minute", name, str(minute)))
    summed: dict[str, int] = {}
    for bucket in pipe.execute():
        for label, value in bucket.items():
            summed[label.decode()] = summed.get(label.decode(), 0) + int(value)
    return summed


def response_class(error: Exception | None) -> str:
    """2xx, 429, 5xx, 4xx, or timeout (no HTTP answer: a timeout or a failed connection)."""
    if error is None:
        return "2xx"
    status = getattr(error, "status_code", None)
    if isinstance(error, RateLimited) or status == 429:
        return "429"
    if status is not None and status >= 500:
        return "5xx"
    if isinstance(error, TransientError):
        return "timeout" if status is None else "5xx"
    return "4xx"


def count_provider_response(provider: str, error: Exception | None = None) -> None:
    """One call to `provider` answered (error None) or failed with `error`."""
    count(PROVIDER_RESPONSES, f"{provider}:{response_class(error)}")


def count_request_shed(reason: str) -> None:
    """A web process did not run a request: it waited too long for a thread (answered 503), or
    its client left while it waited. The web servers' hook (project/asgi.py)."""
    count(REQUESTS_SHED, reason)


def split_provider_label(label: str) -> tuple[str, str]:
    provider, _, response_class = label.rpartition(":")
    return provider, response_class


def observe(name: str, seconds: float) -> None:
    """Record one duration in histogram `name` (cumulative buckets, sum and count)."""
    seconds = max(0.0, float(seconds))
    key = _key("histogram", name)
    try:
        pipe = dispatch_redis.client().pipeline(transaction=False)
        for bound in HISTOGRAM_BUCKETS:
            if seconds <= bound:
                pipe.hincrby(key, _bound_label(bound), 1)
        pipe.hincrbyfloat(key, "sum", seconds)
        pipe.hincrby(key, "count", 1)
        pipe.execute()
    except redis.RedisError:
        logger.warning("could not observe %s", name, exc_info=True)


def _bound_label(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(bound)


def histogram(name: str) -> tuple[list[tuple[str, int]], float, int]:
    """([(upper bound, cumulative count)], sum, count) of histogram `name`."""
    raw = {k.decode(): v for k, v in dispatch_redis.client().hgetall(_key("histogram", name)).items()}
    buckets = [(_bound_label(bound), int(raw.get(_bound_label(bound), 0)))
               for bound in HISTOGRAM_BUCKETS]
    return buckets, float(raw.get("sum", 0)), int(raw.get("count", 0))


STAGES = {
    "queue": "created → dispatched (the last dispatch)",
    "first_progress": "created → first rendering progress",
    "render": "accepted by the provider → finished",
    "end_to_end": "created → finished",
}


def stage_spans(job) -> list[tuple[str, object, object]]:
    """[(stage, start, end)] of a finished job's stages that it went through."""
    spans = [("queue", job.created_at, job.dispatched_at),
             ("first_progress", job.created_at, job.first_progress_at),
             ("render", job.accepted_at, job.finished_at),
             ("end_to_end", job.created_at, job.finished_at)]
    return [(stage, start, end) for stage, start, end in spans if start and end]


def process_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def set_process_gauge(name: str, value: int, *, process: str | None = None) -> None:
    """This process's value of gauge `name`; it lapses unless set again within the TTL."""
    try:
        dispatch_redis.client().set(_key("gauge", name, process or process_id()), int(value),
                                    ex=GAUGE_TTL_SECONDS)
    except redis.RedisError:
        logger.warning("could not set gauge %s", name, exc_info=True)


def gauge_sum(name: str) -> int:
    """Gauge `name` summed over the live processes."""
    client = dispatch_redis.client()
    keys = list(client.scan_iter(match=_key("gauge", name, "*"), count=500))
    return sum(int(value) for value in client.mget(keys) if value is not None) if keys else 0
