"""Hands work to the django-q2 workers; TASKS_RUN_INLINE runs it in the caller instead."""

from __future__ import annotations

import functools

from django.conf import settings
from django.utils.module_loading import import_string


def enqueue(task: str, *args, name: str | None = None) -> None:
    """Run the dotted-path function `task(*args)` in a worker (inline in tests and debugging)."""
    if settings.TASKS_RUN_INLINE:
        import_string(task)(*args)
        return
    from django_q.tasks import async_task

    async_task(task, *args, task_name=name, broker=_broker())


@functools.cache
def _broker():
    """The process's one django-q broker (its Redis client is thread-safe). Given none,
    async_task builds one per task, and with it a Redis connection pool and a new connection:
    in a drain, two per finished video (its email and push), a seventh of the copier's CPU."""
    from django_q.brokers import get_broker

    return get_broker()
