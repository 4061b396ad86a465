"""Serves Django's WSGI handler from an ASGI server on a fixed pool of long-lived threads.

Django's own ASGI handler runs each request's sync code on a thread made for that request, so
every thread-local cache (the database connection CONN_MAX_AGE keeps, the S3 client) is built
per request and thrown away, and nothing bounds the number of threads under a spike. Here a
request waits for one of `threads` workers instead: connections live as long as their thread,
and the event loop that also carries the WebSockets never competes with hundreds of threads.

Past what the threads can serve (a spike beyond the machine), a request that waited longer
than `queue_timeout` is answered 503 with Retry-After instead of being run late, and one whose
client has left while it waited is dropped: never a job made for a client that gave up.
Each such request is reported to `on_shed(reason)` (project/asgi.py counts them in Redis for
/metrics and the operations dashboard).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import queue
import threading
import time
from collections.abc import Callable
from tempfile import SpooledTemporaryFile

from asgiref.wsgi import WsgiToAsgiInstance

logger = logging.getLogger(__name__)
BODY_IN_MEMORY_BYTES = 1024 * 1024
# At most one log line per process per this many seconds about requests turned away.
SHED_LOG_INTERVAL_SECONDS = 10.0
# Why a request was never run: it waited past queue_timeout (answered 503), or its client
# closed the connection while it waited (nothing answered).
WAITED, CLIENT_LEFT = "waited", "client_left"
SHED_REASONS = (WAITED, CLIENT_LEFT)


READS = frozenset({"GET", "HEAD", "OPTIONS"})


class ThreadPoolWsgi:
    """An ASGI `http` application that runs `wsgi_application` on bounded thread pools.

    Reads (GET, HEAD, OPTIONS) have threads of their own: a status poll or a page must not
    wait behind a backlog of submissions, each of which holds the database's write lock. So
    does each of `lanes` ({path prefix: threads}), whatever the method: e.g. the providers'
    webhooks, which free render slots and must not wait behind that backlog either.
    """

    def __init__(self, wsgi_application, *, threads: int, read_threads: int,
                 max_body_bytes: int, lanes: dict[str, int] | None = None,
                 queue_timeout: float = 0.0, busy_page: Callable[[str], tuple[str, bytes]]
                 | None = None, on_shed: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.wsgi_application = wsgi_application
        self.max_body_bytes = max_body_bytes
        # 0: run every request however long it waited.
        self.shedder = _Shedder(queue_timeout, busy_page or busy_json, clock, on_shed)
        self.workers = _Workers(threads, name="http")
        self.readers = _Workers(read_threads, name="http-read")
        self.lanes = [(prefix, _Workers(count, name=f"http-{prefix.strip('/')}"))
                      for prefix, count in (lanes or {}).items()]

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            raise ValueError(f"ThreadPoolWsgi serves HTTP only, not {scope['type']!r}")
        with SpooledTemporaryFile(max_size=BODY_IN_MEMORY_BYTES) as body:
            # The body is read before a thread is taken; refuse what no view accepts up front.
            if _declared_length(scope) > self.max_body_bytes:
                await self._too_large(send)
                return
            received = 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return  # the client left before sending its body: nothing to answer
                chunk = message.get("body", b"")
                received += len(chunk)
                if received > self.max_body_bytes:
                    await self._too_large(send)
                    return
                body.write(chunk)
                if not message.get("more_body"):
                    break
            body.seek(0)
            request = _Request(self.wsgi_application, scope, send, asyncio.get_running_loop(),
                               self.shedder)
            # Only a disconnect can arrive now: it marks the request abandoned while it waits.
            watcher = asyncio.ensure_future(receive())
            watcher.add_done_callback(request.on_receive)
            try:
                whole = await self._workers_for(scope).run(request.run, body)
            finally:
                watcher.cancel()
        if whole is not None:  # sent from here: the thread is free again without waiting
            start, payload = whole
            await send(start)
            await send({"type": "http.response.body", "body": payload})

    def _workers_for(self, scope) -> _Workers:
        for prefix, workers in self.lanes:
            if scope["path"].startswith(prefix):
                return workers
        return self.readers if scope["method"] in READS else self.workers

    async def _too_large(self, send) -> None:
        payload = json.dumps({"message": "The request body is too large.",
                              "extra": {"max_bytes": self.max_body_bytes}}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(payload)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": payload})


BUSY_JSON = json.dumps({"message": "Surge is very busy right now. Please try again in a moment.",
                        "extra": {}}).encode()


def busy_json(path: str) -> tuple[str, bytes]:
    """The 503's body in the API's error shape."""
    return "application/json", BUSY_JSON


class _Shedder:
    """Decides, as a thread picks a request up, whether it is still worth running."""

    def __init__(self, queue_timeout: float, busy_page, clock, on_shed):
        self.queue_timeout = queue_timeout
        self.retry_after = str(max(1, math.ceil(queue_timeout)))
        self.busy_page = busy_page
        self.clock = clock
        self.on_shed = on_shed
        self.lock = threading.Lock()
        self.unlogged: dict[str, int] = {}
        self.logged_at = -math.inf

    def refuse(self, request: _Request) -> tuple[dict, bytes] | None | bool:
        """False to run the request; None (send nothing) or a 503 to send instead."""
        if request.abandoned:
            self._count(CLIENT_LEFT)
            return None
        if self.queue_timeout and self.clock() - request.queued_at > self.queue_timeout:
            self._count(WAITED)
            content_type, payload = self.busy_page(request.scope["path"])
            return {"type": "http.response.start", "status": 503,
                    "headers": [(b"content-type", content_type.encode()),
                                (b"content-length", str(len(payload)).encode()),
                                (b"retry-after", self.retry_after.encode()),
                                (b"cache-control", b"no-store"),
                                (b"x-content-type-options", b"nosniff")]}, payload
        return False

    def _count(self, reason: str) -> None:
        if self.on_shed is not None:
            try:
                self.on_shed(reason)
            except Exception:  # counting must never cost the client its answer
                logger.warning("could not count a request not run (%s)", reason, exc_info=True)
        with self.lock:
            self.unlogged[reason] = self.unlogged.get(reason, 0) + 1
            now = self.clock()
            if now - self.logged_at < SHED_LOG_INTERVAL_SECONDS:
                return
            counts, self.unlogged, self.logged_at = self.unlogged, {}, now
        logger.warning("Requests not run: %s (waited past WEB_QUEUE_TIMEOUT=%ss: answered 503; "
                       "client_left: the client closed the connection while they waited)",
                       counts, self.queue_timeout)


class _Workers:
    """A fixed set of threads fed by a SimpleQueue.

    concurrent.futures' executor makes the event loop take a semaphore's lock on every submit;
    measured under a spike, the loop spent most of its time waiting for that lock while the
    request threads held it. Here the loop only appends to a queue and is woken by
    call_soon_threadsafe when the result is ready.
    """

    def __init__(self, threads: int, *, name: str):
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        for number in range(threads):
            threading.Thread(target=self._work, name=f"{name}-{number}", daemon=True).start()

    async def run(self, function, *args):
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self.queue.put((loop, future, function, args))
        return await future

    def _work(self) -> None:
        while True:
            loop, future, function, args = self.queue.get()
            try:
                result = function(*args)
            except BaseException as error:  # handed to the awaiting request, not lost here
                loop.call_soon_threadsafe(_settle, future, None, error)
            else:
                loop.call_soon_threadsafe(_settle, future, result, None)


def _settle(future: asyncio.Future, result, error) -> None:
    if future.cancelled():
        return
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)


def client_left(watcher: asyncio.Future) -> bool:
    """Whether a waiting request's `receive()` (once done) says its client closed the connection:
    after the body, a server's receive() has nothing else to say."""
    return not watcher.cancelled() and watcher.exception() is None \
        and watcher.result()["type"] == "http.disconnect"


def _declared_length(scope) -> int:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return 0
    return 0


class _Request(WsgiToAsgiInstance):
    """One request on a pool thread; `send` is handed back to the event loop."""

    def __init__(self, wsgi_application, scope, send, loop, shedder: _Shedder):
        super().__init__(wsgi_application)
        self.scope = scope
        self.loop = loop
        self.async_send = send
        self.shedder = shedder
        self.queued_at = shedder.clock()
        self.abandoned = False

    def on_receive(self, watcher: asyncio.Future) -> None:
        if client_left(watcher):
            self.abandoned = True

    def sync_send(self, message) -> None:
        asyncio.run_coroutine_threadsafe(self.async_send(message), self.loop).result()

    def run(self, body) -> tuple[dict, bytes] | None:
        """The whole response for the event loop to send, or None once streamed from here
        (or when the client has gone)."""
        refused = self.shedder.refuse(self)
        if refused is not False:
            return refused
        try:
            environ = self.build_environ(self.scope, body)
        except ValueError:  # too many duplicate headers
            self.start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return self.response_start, b"Bad Request: too many duplicate headers"
        result = self.wsgi_application(environ, self.start_response)
        try:
            if isinstance(result, (list, tuple)) or not getattr(result, "streaming", True):
                payload = b"".join(result)  # the usual small response, in one piece
                if self.response_content_length is not None:
                    payload = payload[:self.response_content_length]
                return self.response_start, payload
            self._send_streamed(result)
            return None
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()  # Django's request_finished: recycles the thread's DB connection

    def _send_streamed(self, result) -> None:
        sent = 0
        for chunk in result:
            if not self.response_started:
                self.response_started = True
                self.sync_send(self.response_start)
            if self.response_content_length is not None:
                chunk = chunk[:self.response_content_length - sent]
            if chunk:
                self.sync_send({"type": "http.response.body", "body": chunk, "more_body": True})
                sent += len(chunk)
            if sent == self.response_content_length:
                break
        if not self.response_started:
            self.response_started = True
            self.sync_send(self.response_start)
        self.sync_send({"type": "http.response.body"})
