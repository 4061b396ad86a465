"""Tasks handed to the django-q2 workers through the real Redis."""

from __future__ import annotations

from django_q.brokers import get_broker
from redis.connection import Connection

from common import tasks


def noop(*_args) -> None:
    """What the test enqueues: harmless if a worker of this test run takes it."""


def test_tasks_reuse_the_process_s_redis_connection(settings, monkeypatch):
    """Each task went out on a Redis connection opened for it (a new pool per task), costing
    the copier a connection per notification; now every task reuses the process's."""
    settings.TASKS_RUN_INLINE = False
    tasks._broker.cache_clear()
    opened = []
    real_connect = Connection._connect

    def counting_connect(self):
        opened.append(self)
        return real_connect(self)

    monkeypatch.setattr(Connection, "_connect", counting_connect)
    queue = get_broker()
    before = queue.connection.llen(queue.list_key)
    opened.clear()
    for number in range(3):
        tasks.enqueue("common.tests.test_tasks.noop", number, name=f"noop-{number}")
    try:
        assert queue.connection.llen(queue.list_key) >= before + 3  # really queued
        assert len(opened) <= 1
    finally:
        queue.connection.rpop(queue.list_key, 3)
        tasks._broker.cache_clear()
