"""`python -m launcher.web --bind 127.0.0.1 --port 8000`: the web server (HTTP and WebSocket).

uvicorn (uvloop, httptools) runs project.asgi: HTTP requests on a bounded pool of Django threads,
WebSockets on the event loop. Chosen from measurements on a 2-core machine: BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import logging.config
import os

import uvicorn
from django.conf import settings

# Seconds an idle keep-alive connection stays open: a proxy in front keeps its own pool, and
# phones polling every few seconds reuse theirs.
KEEP_ALIVE_SECONDS = 65
# Connections waiting to be accepted: a spike arrives faster than any accept loop.
BACKLOG = 4096


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bind", "-b", default=os.environ.get("BIND", "127.0.0.1"))
    parser.add_argument("--port", "-p", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--processes", type=int,
                        default=int(os.environ.get("WEB_PROCESSES", "1")),
                        help="Server processes sharing the port (WEB_PROCESSES).")
    args = parser.parse_args()
    # uvicorn's own lines go through Django's LOGGING too (JSON in production, redacted).
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    logging.config.dictConfig(settings.LOGGING)
    uvicorn.run(
        "project.asgi:application", host=args.bind, port=args.port,
        workers=args.processes if args.processes > 1 else None,
        loop="uvloop", http="httptools", ws="websockets-sansio", lifespan="off",
        # The client address is worked out by the app from TRUSTED_PROXY_COUNT, never from
        # headers anyone can send (uvicorn would trust X-Forwarded-For from 127.0.0.1).
        proxy_headers=False, server_header=False, access_log=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS, backlog=BACKLOG, log_level="info",
        log_config=None)


if __name__ == "__main__":
    main()
