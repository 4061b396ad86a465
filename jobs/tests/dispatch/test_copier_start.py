"""A copier is ready for a burst of finished renders before it takes the first."""

from __future__ import annotations

import threading

from django.urls import clear_url_caches, get_resolver

from jobs import s3
from jobs.dispatch import mirror
from jobs.dispatch.copier import run_copier
from jobs.management.commands.copier import Command as CopierCommand
from jobs.management.commands.dispatcher import Command as DispatcherCommand


def test_the_download_client_is_built_before_the_first_copy():
    """Built lazily, ten renders finishing at once had every copy thread build one."""
    mirror._downloads.cache_clear()
    s3._client.cache_clear()
    stop = threading.Event()
    stop.set()  # take no copy request: only what starting does
    run_copier(threads=1, stop=stop).join(timeout=10)
    assert mirror._downloads.cache_info().currsize == 1
    assert s3._client.cache_info().currsize == 1


def test_the_url_tables_are_built_before_the_first_copy():
    """Django builds them on the first reverse(): a finished job's notification link, in the
    first wave of finished renders, on a thread sharing the GIL with one holding the
    database's write lock."""
    clear_url_caches()
    assert not get_resolver()._populated
    stop = threading.Event()
    stop.set()
    run_copier(threads=1, stop=stop).join(timeout=10)
    assert get_resolver()._populated


def test_copies_run_on_two_threads_unless_told_otherwise():
    """With eight, ten renders finishing at once had eight copies share the copier's GIL while
    one of them held the database's write lock: every web writer waited (the spike's worst
    second, BENCHMARKS.md, fourth pass)."""
    copier = CopierCommand().create_parser("manage.py", "copier").parse_args([])
    dispatcher = DispatcherCommand().create_parser("manage.py", "dispatcher").parse_args([])
    assert copier.threads == dispatcher.copy_threads == 2
