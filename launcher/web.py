"""`python -m launcher.web --bind 127.0.0.1 --port 8000`: the web server (HTTP and WebSocket).

uvicorn (uvloop, httptools) runs project.asgi: HTTP requests on a bounded pool of Django threads,
WebSockets on the event loop. Chosen from measurements on a 2-core machine: BENCHMARKS.md.
With several processes each listens on a socket of its own (SO_REUSEPORT), so the kernel spreads
new connections over them evenly.
"""

from __future__ import annotations

import argparse
import logging
import logging.config
import os
import socket
import sys

import uvicorn
from django.conf import settings
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

logger = logging.getLogger("uvicorn.error")

# Seconds an idle keep-alive connection stays open: a proxy in front keeps its own pool, and
# phones polling every few seconds reuse theirs.
KEEP_ALIVE_SECONDS = 65
# Connections waiting to be accepted: a spike arrives faster than any accept loop.
BACKLOG = 4096


def bind_reuse_port(host: str, port: int) -> socket.socket:
    """A TCP socket bound with SO_REUSEPORT: each process that binds one gets its own queue of
    new connections, which Linux fills evenly by a hash of each connection's addresses."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


class OwnListener:
    """What uvicorn's supervisor hands each server process in place of one shared listening
    socket: unpickled in that process (also in one started to replace a dead one), it becomes a
    socket of the process's own (bind_reuse_port).

    One shared socket is one queue: the process whose event loop wakes first accepts every
    connection waiting, so a burst of them — a spike, a proxy opening its pool — all went to one
    process, and the others sat idle (measured: 32 connections opened at once, 32 to one of two).
    """

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port

    def __reduce__(self):
        return bind_reuse_port, (self.host, self.port)


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
    config = uvicorn.Config(
        "project.asgi:application", host=args.bind, port=args.port,
        workers=args.processes if args.processes > 1 else None,
        loop="uvloop", http="httptools", ws="websockets-sansio", lifespan="off",
        # The client address is worked out by the app from TRUSTED_PROXY_COUNT, never from
        # headers anyone can send (uvicorn would trust X-Forwarded-For from 127.0.0.1).
        proxy_headers=False, server_header=False, access_log=False,
        timeout_keep_alive=KEEP_ALIVE_SECONDS, backlog=BACKLOG, log_level="info",
        log_config=None)
    if args.processes <= 1:
        server = uvicorn.Server(config)
        server.run()
        if not server.started:
            sys.exit(STARTUP_FAILURE)  # as uvicorn.run would
        return
    # Holds the port for as long as we run, and fails here, plainly, if it is taken. It never
    # listens, so no connection is queued on it.
    try:
        reservation = bind_reuse_port(args.bind, args.port)
    except OSError as error:
        logger.error("cannot listen on %s:%d: %s", args.bind, args.port, error)
        sys.exit(STARTUP_FAILURE)
    logger.info("Uvicorn running on http://%s:%d in %d processes", args.bind, args.port,
                args.processes)
    try:
        Multiprocess(config, sockets=[OwnListener(args.bind, args.port)]).run()
    finally:
        reservation.close()


if __name__ == "__main__":
    main()
