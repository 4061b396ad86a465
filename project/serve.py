"""Start one Surge process once the services it needs answer: web, worker or dispatcher.

Used by `make run` and usable on its own in production (one command per container/unit).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from urllib.parse import urlparse

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")

WAIT_SECONDS = 120


def wait_for_dependencies() -> None:
    import django

    django.setup()
    from django.conf import settings

    from project.embedded import wait_for_s3_bucket, wait_for_tcp

    redis_url = urlparse(settings.REDIS_URL)
    if redis_url.hostname in ("127.0.0.1", "localhost"):
        wait_for_tcp(redis_url.port or 6379, timeout=WAIT_SECONDS)
    wait_for_s3_bucket(endpoint_url=settings.S3_ENDPOINT_URL, bucket=settings.S3_BUCKET,
                       access_key=settings.AWS_ACCESS_KEY_ID,
                       secret_key=settings.AWS_SECRET_ACCESS_KEY, timeout=WAIT_SECONDS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("role", choices=["web", "worker", "dispatcher"])
    parser.add_argument("--bind", default=os.environ.get("BIND", "127.0.0.1"))
    args = parser.parse_args()
    started = time.monotonic()
    wait_for_dependencies()
    print(f"{args.role}: dependencies ready in {time.monotonic() - started:.1f}s", flush=True)
    if args.role == "web":
        port = os.environ.get("PORT", "8000")
        # Generous WebSocket timeouts: browsers keep sockets open for a whole render.
        os.execvp(sys.executable, [sys.executable, "-m", "daphne", "-b", args.bind, "-p", port,
                                   "--proxy-headers", "--websocket_timeout", "86400",
                                   "project.asgi:application"])
    command = "qcluster" if args.role == "worker" else "dispatcher"
    os.execvp(sys.executable, [sys.executable, "manage.py", command])


if __name__ == "__main__":
    main()
