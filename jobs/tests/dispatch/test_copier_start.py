"""A copier is ready for a burst of finished renders before it takes the first."""

from __future__ import annotations

import threading

from jobs.dispatch import mirror
from jobs.dispatch.copier import run_copier


def test_the_download_client_is_built_before_the_first_copy():
    """Built lazily, ten renders finishing at once had every copy thread build one."""
    mirror._downloads.cache_clear()
    stop = threading.Event()
    stop.set()  # take no copy request: only what starting does
    run_copier(threads=1, stop=stop).join(timeout=10)
    assert mirror._downloads.cache_info().currsize == 1
