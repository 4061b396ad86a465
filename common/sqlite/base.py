"""SQLite with writers queued by the kernel instead of SQLite's busy handler.

With several processes writing, a transaction that finds the write lock taken sleeps in
SQLite's busy handler: 1, 2, 5, 10 … up to 100 ms at a time, however soon the lock frees.
Under a spike most writers were asleep while the database sat idle (measured: 57 submissions
a second). Here every write transaction (BEGIN IMMEDIATE, see settings) first takes an
exclusive flock on a file beside the database, which the kernel hands to the next waiter the
moment it is released — also when the holder dies. A write outside a transaction (the ORM's
`save()`, `update()` and `create()` in autocommit) takes it for its one statement: else it
would meet the lock's holder in SQLite's busy handler, or make the holder nap there while
every writer queued behind it waits. Reads never take it. Queries are counted and timed for
/metrics by django-prometheus's wrapper.
"""

from __future__ import annotations

import fcntl
import functools
import os

from django.db.backends.sqlite3 import base
from django_prometheus.db.common import DatabaseWrapperMixin, ExportingCursorWrapper


class DatabaseWrapper(DatabaseWrapperMixin, base.DatabaseWrapper):
    # django-prometheus counts connections, queries and their durations (GET /metrics).
    CURSOR_CLASS = base.SQLiteCursorWrapper
    _write_lock_fd: int | None = None
    _holding_write_lock = False

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The outermost wrapper (first in the list), for the whole life of the connection.
        self.execute_wrappers.insert(0, self._lock_autocommit_write)

    def _lock_autocommit_write(self, execute, sql, params, many, context):
        if self._holding_write_lock or not _is_write(sql) or not self.get_autocommit():
            return execute(sql, params, many, context)
        self._take_write_lock()
        try:
            return execute(sql, params, many, context)
        finally:
            self._free_write_lock()

    def get_new_connection(self, conn_params):
        connection = super().get_new_connection(conn_params)
        if not self.is_in_memory_db() and self._write_lock_fd is None:
            self._write_lock_fd = os.open(f"{self.settings_dict['NAME']}.write-lock",
                                          os.O_RDWR | os.O_CREAT, 0o600)
        return connection

    def create_cursor(self, name=None):
        return self.connection.cursor(factory=_counting_cursor_class(
            self.CURSOR_CLASS, self.alias, self.vendor))

    def _start_transaction_under_autocommit(self):
        self._take_write_lock()
        try:
            super()._start_transaction_under_autocommit()
        except BaseException:
            self._free_write_lock()
            raise

    def _commit(self):
        try:
            super()._commit()
        finally:
            self._free_write_lock()

    def _rollback(self):
        try:
            super()._rollback()
        finally:
            self._free_write_lock()

    def _close(self):
        try:
            super()._close()
        finally:
            self._free_write_lock()
            if self._write_lock_fd is not None:
                os.close(self._write_lock_fd)
                self._write_lock_fd = None

    def _take_write_lock(self) -> None:
        if self._write_lock_fd is not None and not self._holding_write_lock:
            fcntl.flock(self._write_lock_fd, fcntl.LOCK_EX)  # waits without the GIL
            self._holding_write_lock = True

    def _free_write_lock(self) -> None:
        if self._holding_write_lock:
            self._holding_write_lock = False
            fcntl.flock(self._write_lock_fd, fcntl.LOCK_UN)


_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


def _is_write(sql: str) -> bool:
    return sql.lstrip()[:7].upper().startswith(_WRITES)


@functools.cache
def _counting_cursor_class(cursor_class, alias: str, vendor: str):
    """django-prometheus's counting cursor class, made once per database: its own
    create_cursor defines a new class for every cursor, i.e. every query (~2 % of a web
    process's CPU in a spike profile, and each class is garbage only a full collection frees)."""
    return ExportingCursorWrapper(cursor_class, alias, vendor)
