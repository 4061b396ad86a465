"""Hands work to the django-q2 workers; TASKS_RUN_INLINE runs it in the caller instead."""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string


def enqueue(task: str, *args, name: str | None = None) -> None:
    """Run the dotted-path function `task(*args)` in a worker (inline in tests and debugging)."""
    if settings.TASKS_RUN_INLINE:
        import_string(task)(*args)
        return
    from django_q.tasks import async_task

    async_task(task, *args, task_name=name)
