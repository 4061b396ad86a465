"""Start one Surge process once the services it needs answer: web, worker, dispatcher or
copier.

Used by `make run` and usable on its own in production (one command per container/unit).
"""

from __future__ import annotations

import argparse
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from urllib.parse import urlparse

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

WAIT_SECONDS = 120
QCLUSTER_GRACE_SECONDS = 8
PR_SET_PDEATHSIG = 1


def wait_for_dependencies() -> None:
    import django

    django.setup()
    from django.conf import settings

    from launcher.embedded import wait_for_s3_bucket, wait_for_tcp

    redis_url = urlparse(settings.REDIS_URL)
    if redis_url.hostname in ("127.0.0.1", "localhost"):
        wait_for_tcp(redis_url.port or 6379, timeout=WAIT_SECONDS)
    wait_for_s3_bucket(endpoint_url=settings.S3_ENDPOINT_URL, bucket=settings.S3_BUCKET,
                       access_key=settings.AWS_ACCESS_KEY_ID,
                       secret_key=settings.AWS_SECRET_ACCESS_KEY, timeout=WAIT_SECONDS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("role", choices=["web", "worker", "dispatcher", "copier"])
    parser.add_argument("--bind", default=os.environ.get("BIND", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=None, help="web: the port (else PORT).")
    parser.add_argument("--copy-threads", type=int, default=None,
                        help="dispatcher: threads copying results (0 when a copier runs); "
                             "copier: its threads. Default 2.")
    args = parser.parse_args()
    started = time.monotonic()
    wait_for_dependencies()
    print(f"{args.role}: dependencies ready in {time.monotonic() - started:.1f}s", flush=True)
    if args.role == "web":
        port = str(args.port or os.environ.get("PORT", "8000"))
        os.execvp(sys.executable, [sys.executable, "-m", "launcher.web", "--bind", args.bind,
                                   "--port", port])
    if args.role == "worker":
        sys.exit(run_qcluster())
    threads = [] if args.copy_threads is None else [str(args.copy_threads)]
    if args.role == "copier":
        os.execvp(sys.executable, [sys.executable, "manage.py", "copier",
                                   *(["--threads", *threads] if threads else [])])
    os.execvp(sys.executable, [sys.executable, "manage.py", "dispatcher",
                               *(["--copy-threads", *threads] if threads else [])])


def run_qcluster() -> int:
    """qcluster in a process group of its own, told to stop by us alone.

    Supervisors signal a whole process group, and django-q2's main process never exits when its
    sentinel and workers get that SIGTERM too (measured: hangs; SIGTERM to the main process
    alone: the cluster is gone in about a second). So we forward the signal to the main only.
    """
    child = subprocess.Popen([sys.executable, "manage.py", "qcluster"], start_new_session=True,
                             preexec_fn=_terminate_with_parent)

    def forward(signum, _frame):
        child.send_signal(signal.SIGTERM)
        # Tasks still running after the grace period are cut off (the reconciler redoes them).
        killer = threading.Timer(QCLUSTER_GRACE_SECONDS, _kill_group, args=(child.pid,))
        killer.daemon = True
        killer.start()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, forward)
    return child.wait()


def _terminate_with_parent() -> None:
    """Linux: SIGTERM qcluster if this wrapper dies (even by SIGKILL), so it never lingers."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


if __name__ == "__main__":
    main()
