"""Run the dispatcher: event-driven dispatch plus the periodic reconciler pass."""

import signal
import threading

from django.core.management.base import BaseCommand

from common.gc_tuning import freeze_startup_objects
from jobs import s3
from jobs.dispatch.copier import COPY_THREADS, run_copier
from jobs.dispatch.engine import use_submit_threads
from jobs.dispatch.reconciler import run_forever
from jobs.presenter import warm_up_urls


class Command(BaseCommand):
    help = "Dispatch queued jobs to providers and reconcile lost work (run one or more)."

    def add_arguments(self, parser):
        parser.add_argument("--interval", type=float, default=None,
                            help="Seconds between reconciler passes (RECONCILE_INTERVAL).")
        parser.add_argument("--submit-threads", type=int, default=32,
                            help="Threads making provider submissions in this process.")
        parser.add_argument("--copy-threads", type=int, default=COPY_THREADS,
                            help="Threads copying finished videos into our bucket; 0 when a "
                                 "copier process (manage.py copier) does it. The copies' "
                                 "CPU then no longer delays handing freed slots their next "
                                 "job (one GIL per process).")

    def handle(self, *args, interval=None, submit_threads=32, copy_threads=COPY_THREADS,
               **options):
        use_submit_threads(submit_threads)
        s3.warm_up()  # submissions sign the selfie's URL for the provider
        warm_up_urls()  # not with the first wave of finished renders
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        copier = run_copier(threads=copy_threads, stop=stop) if copy_threads > 0 else None
        freeze_startup_objects()
        self.stdout.write("dispatcher running")
        run_forever(interval=interval, stop=stop)
        if copier is not None:
            copier.join(timeout=30)
