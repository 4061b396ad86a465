"""Fast lanes: a common API request answered without a request thread, in batches.

A request through Django's handler, its middleware and DRF costs several times `/healthz` in
CPU and takes a thread of its own (BENCHMARKS.md, fourteenth pass). A fast lane sits in front
of the thread pool (common/wsgi_threads.py) on the web process's event loop: it takes the one
common shape of one API endpoint, hands it to a thread of its own that answers every request
waiting at that moment together (one query for their tokens, one for their rows), and sends
each answer exactly as the view would send it: the same presenter and serializer, the
middleware's own headers, the same counters.

Everything else — and whatever the batch would not answer itself (an unknown token, a 404,
a failure before anything was written) — goes on to the view unchanged, with its body, so
every error keeps its one source. A client that left while its request waited gets nothing
run for it; one that waited past WEB_QUEUE_TIMEOUT gets the pool's 503.

A subclass says what it takes (`take`, on the event loop, from the headers alone), what it
makes of the body (`parse`) and how it answers a batch (`answer`, on the lane's thread).
"""

from __future__ import annotations

import asyncio
import functools
import io
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from asgiref.wsgi import WsgiToAsgiInstance
from csp.middleware import CSPMiddleware
from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest
from django.core.signals import setting_changed
from django.db import close_old_connections
from django.dispatch import receiver
from django.http import HttpResponse, JsonResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware
from django_prometheus.middleware import Metrics
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from common.api import SERVER_ERROR_MESSAGE, json_error
from common.links import request_origin
from common.request_id import HEADER as REQUEST_ID_HEADER
from common.request_id import request_id_from
from common.wsgi_threads import client_left

logger = logging.getLogger(__name__)
# A batch is whatever waits when the lane's thread is free, up to this many: enough to share
# one query or transaction among a burst, few enough that the first of them is not kept long.
MAX_BATCH = 64
_JSON_ACCEPTED = frozenset({"*/*", "application/*", "application/json"})
_REQUEST_ID = REQUEST_ID_HEADER.lower().encode()
renderer = JSONRenderer()

# What `answer` gives for each request: the whole response (start message, body), or None for
# the view to take it.
Answer = tuple[dict, bytes] | None


@dataclass(frozen=True)
class Site:
    """What an answer takes from the host and scheme a request came by, the same for every
    request that sends the same of those headers: the origin of its URLs, and a request that
    stands for them all where the middleware reads one (its headers)."""

    origin: str
    request: WSGIRequest


@dataclass(eq=False)
class Pending:
    """A request a lane took, waiting for its batch. Subclasses add what `answer` needs."""

    scope: dict
    site: Site
    request_id: str
    queued_at: float
    abandoned: bool = False
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future | None = None
    started: float = field(default_factory=time.perf_counter)

    def on_receive(self, watcher: asyncio.Future) -> None:
        if client_left(watcher):
            self.abandoned = True


class FastLane:
    """ASGI `http` application in front of `app` (the ThreadPoolWsgi serving Django, or
    another lane in front of it)."""

    thread_name = "http-lane"

    def __init__(self, app, *, max_batch: int = MAX_BATCH):
        self.app = app
        self.shedder = app.shedder  # the pool's: the same 503 and the same counts
        self.batcher = _Batcher(self._answer_batch, max_batch, name=self.thread_name)

    def close(self) -> None:
        """Stop the lane's thread once it has answered what it has (for tests: a server
        process keeps it to the end); and those of the lanes behind it."""
        self.batcher.close()
        if isinstance(self.app, FastLane):
            self.app.close()

    def take(self, scope) -> object | None:
        """What a request this lane answers carries in its headers (e.g. its API token); None
        for the rest, which go on to `app`."""
        raise NotImplementedError

    def parse(self, body: bytes, taken, arrival: dict) -> Pending | None:
        """The request to batch (a Pending made with `arrival`'s fields), or None to pass it
        on."""
        raise NotImplementedError

    def answer(self, batch: list[Pending]) -> list[Answer]:
        """Each request's whole response, or None for the view (on the lane's thread). If it
        raises, every request of the batch goes to the view: it must not have written."""
        raise NotImplementedError

    async def __call__(self, scope, receive, send):
        taken = self.take(scope) if scope["type"] == "http" else None
        arrival = self._arrival(scope) if taken is not None else None
        if arrival is None:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)  # bounded by `take`, which checked its declared length
        if body is None:
            return  # the client left before sending its body: nothing to answer
        pending = self.parse(body, taken, arrival)
        if pending is not None:
            watcher = asyncio.ensure_future(receive())
            watcher.add_done_callback(pending.on_receive)
            try:
                answer = await self.batcher.submit(pending)
            finally:
                watcher.cancel()
            if answer is not None:
                start, payload = answer
                await send(start)
                await send({"type": "http.response.body", "body": payload})
                return
            if pending.abandoned:
                return
        # The view, with the body already read (the watcher took nothing but a disconnect).
        await self.app(scope, _Replay(body, receive), send)

    def _arrival(self, scope) -> dict | None:
        """The fields every Pending has, or None for a request the view must take (from a host
        not allowed, or one the middleware would redirect to https)."""
        headers = single_headers(scope, _arrival_headers())
        if headers is None:
            return None
        request_id = headers.pop(_REQUEST_ID, None)
        site = _site(scope, headers)
        if site is None:
            return None
        return {"scope": scope, "site": site, "queued_at": self.shedder.clock(),
                "request_id": request_id_from(
                    request_id.decode("latin-1") if request_id is not None else None)}

    def _answer_batch(self, batch: list[Pending]) -> list[Answer]:
        answers: list[Answer] = [None] * len(batch)
        waiting = []
        for index, pending in enumerate(batch):
            refused = self.shedder.refuse(pending)
            if refused is not False:  # a 503, or None when the client has gone
                answers[index] = refused
            else:
                waiting.append(index)
        if waiting:
            for index, answer in zip(waiting, self.answer([batch[i] for i in waiting]),
                                     strict=True):
                answers[index] = answer
        return answers


class _Batcher:
    """One thread taking every request waiting at that moment, then the next batch."""

    def __init__(self, answer: Callable[[list[Pending]], list[Answer]], max_batch: int, *,
                 name: str):
        self.answer = answer
        self.max_batch = max_batch
        self.name = name
        self.queue: queue.SimpleQueue[Pending | None] = queue.SimpleQueue()
        self.started = False
        self.lock = threading.Lock()

    async def submit(self, pending: Pending) -> Answer:
        if not self.started:
            with self.lock:
                if not self.started:
                    threading.Thread(target=self._work, name=self.name, daemon=True).start()
                    self.started = True
        pending.loop = asyncio.get_running_loop()
        pending.future = pending.loop.create_future()
        self.queue.put(pending)
        return await pending.future

    def close(self) -> None:
        self.queue.put(None)

    def _work(self) -> None:
        while True:
            first = self.queue.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < self.max_batch:
                try:
                    more = self.queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self.queue.put(None)  # stop after this batch
                    break
                batch.append(more)
            try:
                close_old_connections()  # as each request does: a broken one is replaced
                answers = self.answer(batch)
            except Exception:  # nothing was written: the view takes each of them, one by one
                logger.warning("%s could not answer %d requests; passing them on", self.name,
                               len(batch), exc_info=True)
                answers = [None] * len(batch)
            finally:
                try:
                    close_old_connections()
                except Exception:  # the next batch's replaces it; the lane must go on
                    logger.warning("could not close %s's connection", self.name, exc_info=True)
            for pending, answer in zip(batch, answers, strict=True):
                pending.loop.call_soon_threadsafe(_settle, pending.future, answer)


@functools.cache
def _arrival_headers() -> frozenset[bytes]:
    """The request id, and the headers that decide a request's Site: Django's get_host and
    is_secure read no others."""
    names = {_REQUEST_ID, b"host", b"x-forwarded-host", b"x-forwarded-port"}
    if settings.SECURE_PROXY_SSL_HEADER:
        meta_name = settings.SECURE_PROXY_SSL_HEADER[0]
        names.add(meta_name.removeprefix("HTTP_").replace("_", "-").lower().encode())
    return frozenset(names)


# Sites by (scheme, server, root path, those headers); a client choosing Host headers at will
# cannot grow it past this: past it, each such request's Site is worked out anew.
MAX_SITES = 64
_sites: dict[tuple, Site | None] = {}


def _site(scope, headers: dict[bytes, bytes]) -> Site | None:
    key = (scope.get("scheme"), scope.get("server"), scope.get("root_path", ""),
           *sorted(headers.items()))
    try:
        return _sites[key]
    except KeyError:
        pass
    request = WSGIRequest(wsgi_environ(scope))
    site = None
    # SecurityMiddleware's own decision: plain http where https is required is redirected.
    if SecurityMiddleware(lambda _request: None).process_request(request) is None:
        try:
            site = Site(origin=request_origin(request), request=request)
        except DisallowedHost:
            pass  # the view answers 400
    if len(_sites) < MAX_SITES:
        _sites[key] = site
    return site


@receiver(setting_changed)
def _forget_what_settings_decided(**kwargs) -> None:
    """Sites and the middleware's headers follow the settings (tests change them)."""
    _sites.clear()
    _headers.clear()
    _arrival_headers.cache_clear()


def wsgi_environ(scope) -> dict:
    """The WSGI environ Django's view would get for `scope` (without its body)."""
    adapter = WsgiToAsgiInstance(None)
    adapter.scope = scope  # build_environ reads the headers from there
    return adapter.build_environ(scope, io.BytesIO())


def _settle(future: asyncio.Future, answer: Answer) -> None:
    if not future.cancelled():
        future.set_result(answer)


async def _read_body(receive) -> bytes | None:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


class _Replay:
    """`receive` for the view: the body already read, then the client's own messages."""

    def __init__(self, body: bytes, receive):
        self.body, self.receive = body, receive

    async def __call__(self):
        if self.body is not None:
            body, self.body = self.body, None
            return {"type": "http.request", "body": body, "more_body": False}
        return await self.receive()


def single_headers(scope, names: frozenset[bytes] | set[bytes]) -> dict[bytes, bytes] | None:
    """Those of `names` the request sends, or None if it sends one of them twice (Django would
    read them joined: the view's to answer). `x_name` counts as `x-name`: both reach Django
    as the same HTTP_X_NAME."""
    found: dict[bytes, bytes] = {}
    for name, value in scope["headers"]:
        name = name.replace(b"_", b"-")
        if name in names:
            if name in found:
                return None
            found[name] = value
    return found


def api_token(authorization: bytes | None) -> bytes | None:
    """The key of an `Authorization: Token <key>` header."""
    if authorization is None:
        return None
    parts = authorization.split()
    if len(parts) == 2 and parts[0].lower() == b"token":
        return parts[1]
    return None


def wants_json(accept: bytes | None) -> bool:
    """Whether DRF's negotiation would pick JSON: every range the client lists is JSON or any."""
    if accept is None:
        return True
    ranges = [part.split(b";")[0].strip().lower().decode("latin-1")
              for part in accept.split(b",")]
    return all(media_range in _JSON_ACCEPTED for media_range in ranges if media_range)


def json_answer(pending: Pending, status: int, data, *, view: type[APIView] | None,
                view_name: str, extra_headers: Iterable[tuple[bytes, bytes]] = ()
                ) -> tuple[dict, bytes]:
    """`data` rendered as the view renders it — DRF's `view`, or a plain Django view's
    JsonResponse (`view` None) — with the headers the view's answer carries."""
    payload = renderer.render(data) if view is not None else JsonResponse(data).content
    headers = [*_response_headers(pending.site.request, view, status), *extra_headers,
               (b"content-length", str(len(payload)).encode()),
               (_REQUEST_ID, pending.request_id.encode())]
    count(pending, view_name=view_name, status=status)
    return {"type": "http.response.start", "status": status, "headers": headers}, payload


def server_error(pending: Pending, *, view_name: str) -> tuple[dict, bytes]:
    """The API's 500, for a request whose writes are done but whose answer failed: never
    passed to the view, which would write them again."""
    payload = json_error(500, SERVER_ERROR_MESSAGE).content
    count(pending, view_name=view_name, status=500)
    return {"type": "http.response.start", "status": 500, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
        (_REQUEST_ID, pending.request_id.encode())]}, payload


# {(view, status, over HTTPS): the headers}, built on first use by _response_headers.
_headers: dict[tuple[type | None, int, bool], list[tuple[bytes, bytes]]] = {}


def _response_headers(request: WSGIRequest, view: type[APIView] | None,
                      status: int) -> list[tuple[bytes, bytes]]:
    """The headers every such answer of the view carries besides its own (Location, length,
    request id): DRF's (for a DRF view), then those of the middleware that sets any on an API
    answer — run once per view, status and scheme on an empty answer, so their settings stay
    the only source."""
    key = (view, status, request.is_secure())
    headers = _headers.get(key)
    if headers is None:
        response = HttpResponse(status=status, content_type="application/json")
        if view is not None:
            response["Vary"] = "Accept"
            instance = view()
            instance.setup(request)  # Django's View adds HEAD where there is GET
            response["Allow"] = ", ".join(instance.allowed_methods)
        for middleware_class in (SecurityMiddleware, CSPMiddleware, XFrameOptionsMiddleware):
            middleware_class(lambda _request: response).process_response(request, response)
        headers = _headers[key] = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in response.items() if name.lower() != "content-length"]
    return headers


def count(pending: Pending, *, view_name: str, status: int) -> None:
    """What django-prometheus's middleware counts for a request to the view."""
    method, code = pending.scope["method"], str(status)
    metrics = Metrics.get_instance()
    metrics.requests_total.inc()
    metrics.responses_total.inc()
    metrics.requests_by_method.labels(method=method).inc()
    metrics.requests_by_transport.labels(transport="http").inc()
    metrics.requests_by_view_transport_method.labels(view=view_name, transport="http",
                                                     method=method).inc()
    metrics.responses_by_status.labels(status=code).inc()
    metrics.responses_by_status_view_method.labels(status=code, view=view_name,
                                                   method=method).inc()
    seconds = time.perf_counter() - pending.started
    metrics.requests_latency_before.observe(seconds)
    metrics.requests_latency_by_view_method.labels(view=view_name, method=method).observe(seconds)
