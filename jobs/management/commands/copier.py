"""Run the copier: finished videos into our bucket, on a pool of threads, beside the
dispatchers (`make run` and `make stack` start one; several are safe side by side)."""

import signal
import threading

from django.core.management.base import BaseCommand

from common.gc_tuning import freeze_startup_objects
from jobs.dispatch.copier import COPY_THREADS, run_copier


class Command(BaseCommand):
    help = "Copy finished videos into our bucket (run one or more beside the dispatchers)."

    def add_arguments(self, parser):
        parser.add_argument("--threads", type=int, default=COPY_THREADS,
                            help=f"Threads copying finished videos, default {COPY_THREADS}.")

    def handle(self, *args, threads=COPY_THREADS, **options):
        if threads < 1:
            self.stderr.write("--threads must be at least 1")
            raise SystemExit(2)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        copier = run_copier(threads=threads, stop=stop)
        freeze_startup_objects()
        self.stdout.write("copier running")
        self.stdout.flush()
        stop.wait()
        copier.join(timeout=30)
