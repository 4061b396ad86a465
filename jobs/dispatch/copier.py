"""Copies finished videos into our bucket on a pool of threads: in the copier process
(`manage.py copier`, what `make run` and `make stack` start), or in a dispatcher started
without `--copy-threads 0`.

A copy is a download, a probe, a poster frame and an upload. On the task worker each copy
took a whole worker process, and under a drain (ten renders finishing every half second)
finished videos queued for a minute behind two processes; on the dispatcher's threads their
CPU delayed the hand-over of freed slots (one GIL). Copy requests come through a Redis list;
several copiers share it.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import close_old_connections

from jobs import s3
from jobs.dispatch.mirror import mirror_output
from jobs.dispatch.mirror import warm_up as build_download_client
from jobs.dispatch.wakeup import next_mirror
from jobs.logs import about_job
from jobs.presenter import warm_up_urls

logger = logging.getLogger(__name__)
# Two, measured: with eight, the spike's worst second (ten renders finishing at once) had
# submission p99 560-590 ms, with two 180-206 ms (A/B, 2026-12-06). Likely why: a copy holding
# the database's write lock while seven others take the copier's GIL keeps every web writer
# waiting. Downloads and uploads still overlap the other copy's CPU.
COPY_THREADS = 2


def run_copier(*, threads: int, stop: threading.Event) -> threading.Thread:
    """Start the thread that takes copy requests and runs them on `threads` threads, with the
    S3 and download clients and the URL tables built first (not by the first burst of copies)."""
    s3.warm_up()
    build_download_client()
    warm_up_urls()
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="copy")
    # At most `threads` waiting in the pool: the rest stay in Redis for other dispatchers.
    free = threading.BoundedSemaphore(threads)

    @about_job
    def copy(job_id: str) -> None:
        try:
            mirror_output(job_id=job_id)
        except Exception:  # the reconciler requests it again when the copy lease ends
            logger.exception("copy of %s failed", job_id)
        finally:
            close_old_connections()
            free.release()

    def take() -> None:
        while not stop.is_set():
            if not free.acquire(timeout=1.0):
                continue
            try:
                job_id = next_mirror(timeout=1.0)
            except Exception:  # Redis restarting: try again shortly
                logger.warning("copy requests unavailable", exc_info=True)
                job_id = None
                stop.wait(1.0)
            if job_id is None:
                free.release()
                continue
            pool.submit(copy, job_id)
        pool.shutdown(wait=True)

    thread = threading.Thread(target=take, name="copier", daemon=True)
    thread.start()
    return thread
