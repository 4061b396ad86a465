"""common/sqlite: write transactions queue on a file lock, across threads and processes."""

from __future__ import annotations

import fcntl
import threading
import time

import pytest
from django.db import connection, transaction
from django_prometheus.db.common import execute_total

from accounts.models import User

pytestmark = [pytest.mark.django_db(transaction=True),
              pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's backend")]


def test_a_writer_waits_for_the_one_in_its_transaction_then_goes_at_once():
    holding, release, order = threading.Event(), threading.Event(), []

    def first():
        try:
            with transaction.atomic():
                User.objects.create_user("first@example.com", "x-Strong-Pass-1")
                holding.set()
                release.wait(30)
                order.append("first")
        finally:
            connection.close()

    def second():
        try:
            holding.wait(30)
            with transaction.atomic():
                order.append("second")
                User.objects.create_user("second@example.com", "x-Strong-Pass-2")
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    assert holding.wait(30)
    time.sleep(0.3)  # the second writer has had time to start its transaction: it must wait
    assert order == []
    # The queue is the kernel's: the lock beside the database is held by the first writer.
    with open(f"{connection.settings_dict['NAME']}.write-lock", "rb") as lock:
        with pytest.raises(BlockingIOError):
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    started = time.monotonic()
    release.set()
    for thread in threads:
        thread.join(30)
    assert order == ["first", "second"]
    assert time.monotonic() - started < 1  # handed over at once, not after a busy-handler nap
    assert User.objects.count() == 2


def test_every_cursor_shares_one_counting_class_and_queries_are_still_counted():
    """django-prometheus defined a new cursor class for every query (class per cursor)."""
    def executed() -> float:
        return execute_total.labels(connection.alias, connection.vendor)._value.get()

    before = executed()
    with connection.cursor() as first, connection.cursor() as second:
        first.execute("SELECT 1")
        second.execute("SELECT 1")
        assert type(first.cursor) is type(second.cursor)
    assert executed() == before + 2


@pytest.mark.parametrize("write", [
    lambda: User.objects.filter(email="nobody@example.com").update(is_active=False),
    lambda: User.objects.create_user("bare@example.com", "x-Strong-Pass-3"),
    lambda: User.objects.create_user("gone@example.com", "x-Strong-Pass-4").delete(),
], ids=["update", "create", "delete"])
def test_a_write_outside_a_transaction_holds_the_lock_for_its_statement(write):
    """Else it meets the lock's holder in SQLite's busy handler (naps up to 100 ms), or makes
    the holder nap there while every writer queued on the lock waits."""
    held_during_writes = []

    def observe(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE")):
            with open(f"{connection.settings_dict['NAME']}.write-lock", "rb") as lock:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    held_during_writes.append(True)
                else:
                    fcntl.flock(lock, fcntl.LOCK_UN)
                    held_during_writes.append(False)
        return execute(sql, params, many, context)

    assert connection.get_autocommit()
    with connection.execute_wrapper(observe):
        write()
    assert held_during_writes and all(held_during_writes)
    # ... and frees it after: the next writer goes at once.
    with open(f"{connection.settings_dict['NAME']}.write-lock", "rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(lock, fcntl.LOCK_UN)


def test_reads_outside_a_transaction_do_not_take_the_lock():
    with open(f"{connection.settings_dict['NAME']}.write-lock", "rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held elsewhere: a read goes on
        try:
            assert User.objects.filter(email="nobody@example.com").count() == 0
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
