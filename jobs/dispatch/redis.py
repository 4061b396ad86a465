"""One Redis connection pool for the engine's slots, wake-ups and pauses, and one round trip
for everything a committed transaction tells Redis."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import redis
from django.conf import settings
from redis.client import Pipeline

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=4)
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5,
                                health_check_interval=30)


def client() -> redis.Redis:
    return _client(settings.REDIS_URL)


def key(*parts: str) -> str:
    return ":".join([settings.REDIS_PREFIX, "dispatch", *parts])


_open = threading.local()
Commands = Callable[[Pipeline], object]
Then = Callable[[list], object]


@contextmanager
def one_round_trip() -> Iterator[None]:
    """What `send()` is given inside this block goes to Redis in one pipeline when it ends.

    A committed job change tells Redis several things (the event's PUBLISH, the dispatcher's
    wake-up, the counters, the queue broadcast's request): four round trips, each of which,
    in a busy web process, is also a wait to get the GIL back. Wrapped around a transaction,
    its on-commit hooks cost one. Nested blocks join the outermost one.
    """
    if getattr(_open, "batch", None) is not None:
        yield
        return
    _open.batch = batch = []
    try:
        yield
    finally:
        _open.batch = None
        _execute(batch)


def send(commands: Commands, *, what: str, then: Then | None = None) -> None:
    """Queue `commands(pipe)` in this thread's open one_round_trip() block, else send them now.

    `then(results)` gets the results of those commands. Never raises: a Redis failure is
    logged with `what`, as every caller is a hook that must not break a job (the reconciler
    and clients' reconnects repair what was lost).
    """
    batch = getattr(_open, "batch", None)
    if batch is not None:
        batch.append((commands, what, then))
    else:
        _execute([(commands, what, then)])


def _execute(batch: list[tuple[Commands, str, Then | None]]) -> None:
    if not batch:
        return
    try:
        pipe = client().pipeline(transaction=False)
        spans = []
        for commands, _what, _then in batch:
            start = len(pipe.command_stack)
            commands(pipe)
            spans.append((start, len(pipe.command_stack)))
        results = pipe.execute(raise_on_error=False)
    except Exception:
        logger.warning("could not send to Redis: %s", ", ".join(what for _, what, _ in batch),
                       exc_info=True)
        return
    for (_commands, what, then), (start, end) in zip(batch, spans, strict=True):
        mine = results[start:end]
        refused = next((result for result in mine if isinstance(result, Exception)), None)
        if refused is not None:
            logger.warning("Redis refused %s: %s", what, refused)
        elif then is not None:
            try:
                then(mine)
            except Exception:
                logger.warning("after sending %s to Redis", what, exc_info=True)
