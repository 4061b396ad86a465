"""The submission intake: the common `POST /api/v1/jobs/` answered without a request thread.

A submission through Django's handler, its middleware and DRF costs ~10 × `/healthz` in CPU,
and each takes a thread of its own, a write transaction of its own and a Redis round trip of
its own (BENCHMARKS.md, fourteenth pass). Here the event loop takes the common case — an API
token, a JSON body of exactly `selfie_id` and `style`, no Idempotency-Key, JSON wanted back —
and hands it to one writer thread per process, which checks, inserts and announces every
submission waiting at that moment together (jobs_create: one transaction, one Redis round
trip) and answers each `202` once its job is committed, with the body the API view would
give (the same presenter and serializer).

Everything else — and any submission the writer would refuse (a bad token, someone else's
selfie, the quota) or could not write — goes on to the API view unchanged, with the body
already read, so every error keeps its one source and its exact answer. A client that left
while its submission waited gets no job; one that waited past WEB_QUEUE_TIMEOUT is answered
503 as the thread pool answers it (common/wsgi_threads.py).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field

from asgiref.wsgi import WsgiToAsgiInstance
from csp.middleware import CSPMiddleware
from django.core.exceptions import DisallowedHost
from django.core.handlers.wsgi import WSGIRequest
from django.db import close_old_connections
from django.http import HttpResponse
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.security import SecurityMiddleware
from django.urls import reverse
from django_prometheus.middleware import Metrics
from rest_framework.renderers import JSONRenderer

from accounts.auth import TokenAuthentication
from common.api import SERVER_ERROR_MESSAGE, json_error, represent
from common.request_id import HEADER as REQUEST_ID_HEADER
from common.request_id import request_id_from
from common.wsgi_threads import client_left
from jobs.apis.base import UserApi
from jobs.apis.jobs import JobAcceptedSerializer, JobCollectionApi, job_location, request_origin
from jobs.models import Job
from jobs.presenter import job_states
from jobs.services.jobs import JobRequest, jobs_create
from jobs.styles import style_get

logger = logging.getLogger(__name__)
VIEW_NAME = "api-jobs"
# A batch is whatever waits when the writer is free, up to this many: enough to share one
# transaction among a burst, few enough that the first of them is not kept long.
MAX_BATCH = 64
_FIELDS = frozenset({"selfie_id", "style"})
_JSON_ACCEPTED = frozenset({"*/*", "application/*", "application/json"})


class SubmissionIntake:
    """ASGI `http` application in front of `app` (the ThreadPoolWsgi serving Django)."""

    def __init__(self, app, *, max_batch: int = MAX_BATCH):
        self.app = app
        self.shedder = app.shedder  # the pool's: the same 503 and the same counts
        self.writer = _Writer(max_batch)
        self.path = reverse(VIEW_NAME)
        self.max_body_bytes = UserApi.max_body_bytes

    def close(self) -> None:
        """Stop the writer once it has written what it has (for tests: a server process
        keeps it to the end)."""
        self.writer.close()

    async def __call__(self, scope, receive, send):
        token = self._token_if_taken(scope)
        if token is None:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)  # no more than its declared length, at most 64 KB
        if body is None:
            return  # the client left before sending its body: nothing to answer
        submission = self._parse(scope, body, token)
        if submission is not None:
            watcher = asyncio.ensure_future(receive())
            watcher.add_done_callback(submission.on_receive)
            try:
                answer = await self.writer.submit(submission)
            finally:
                watcher.cancel()
            if answer is not None:
                start, payload = answer
                await send(start)
                await send({"type": "http.response.body", "body": payload})
                return
            if submission.abandoned:
                return
        # The view, with the body already read (the watcher took nothing but a disconnect).
        await self.app(scope, _Replay(body, receive), send)

    def _token_if_taken(self, scope) -> bytes | None:
        """The API token of a request the writer can answer exactly as the view would; None
        for the rest, which is the view's."""
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != self.path \
                or scope.get("query_string"):
            return None
        token = content_type = length = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                if token is not None:
                    return None  # sent twice: DRF reads them joined, and refuses them
                token = value
            elif name == b"content-type":
                content_type = value
            elif name == b"content-length":
                length = int(value) if value.isdigit() else self.max_body_bytes + 1
            elif name == b"idempotency-key":
                return None
            elif name == b"accept" and not _wants_json(value):
                return None
        if token is None or content_type is None or length is None \
                or length > self.max_body_bytes:
            return None  # no declared length (chunked): Django reads such a body as empty
        parts = token.split()
        if len(parts) == 2 and parts[0].lower() == b"token" \
                and content_type.split(b";")[0].strip().lower() == b"application/json":
            return parts[1]
        return None

    def _parse(self, scope, body: bytes, token: bytes) -> _Submission | None:
        try:
            data = json.loads(body)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.keys() != _FIELDS:
            return None
        selfie_id, style = data["selfie_id"], data["style"]
        if not isinstance(selfie_id, str) or not isinstance(style, str) \
                or style_get(style) is None:
            return None
        try:
            selfie_uuid = uuid.UUID(selfie_id)
        except ValueError:
            return None
        adapter = WsgiToAsgiInstance(None)
        adapter.scope = scope  # build_environ reads it from there
        request = WSGIRequest(adapter.build_environ(scope, io.BytesIO(body)))
        try:
            origin = request_origin(request)
        except DisallowedHost:
            return None
        return _Submission(scope=scope, token=token, selfie_id=selfie_uuid, style=style,
                           origin=origin, request=request,
                           request_id=request_id_from(request.headers.get(REQUEST_ID_HEADER)),
                           queued_at=self.shedder.clock(), shedder=self.shedder)


def _wants_json(accept: bytes) -> bool:
    """Whether DRF's negotiation would pick JSON: every range the client lists is JSON or any."""
    ranges = [part.split(b";")[0].strip().lower().decode("latin-1")
              for part in accept.split(b",")]
    return all(media_range in _JSON_ACCEPTED for media_range in ranges if media_range)


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


@dataclass(eq=False)
class _Submission:
    scope: dict
    token: bytes
    selfie_id: uuid.UUID
    style: str
    origin: str
    request: WSGIRequest
    request_id: str
    queued_at: float
    shedder: object
    abandoned: bool = False
    loop: asyncio.AbstractEventLoop | None = None
    future: asyncio.Future | None = None
    started: float = field(default_factory=time.perf_counter)

    def on_receive(self, watcher: asyncio.Future) -> None:
        if client_left(watcher):
            self.abandoned = True


class _Writer:
    """One thread taking every submission waiting at that moment, then the next batch."""

    def __init__(self, max_batch: int):
        self.max_batch = max_batch
        self.queue: queue.SimpleQueue[_Submission | None] = queue.SimpleQueue()
        self.started = False
        self.lock = threading.Lock()

    async def submit(self, submission: _Submission):
        if not self.started:
            with self.lock:
                if not self.started:
                    threading.Thread(target=self._work, name="http-intake", daemon=True).start()
                    self.started = True
        submission.loop = asyncio.get_running_loop()
        submission.future = submission.loop.create_future()
        self.queue.put(submission)
        return await submission.future

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
                answers = _answer(batch)
            except Exception:  # nothing was written: the view takes each of them, one by one
                logger.warning("the intake could not write %d submissions; passing them on",
                               len(batch), exc_info=True)
                answers = [None] * len(batch)
            finally:
                try:
                    close_old_connections()
                except Exception:  # the next batch's replaces it; the writer must go on
                    logger.warning("could not close the intake's connection", exc_info=True)
            for submission, answer in zip(batch, answers, strict=True):
                submission.loop.call_soon_threadsafe(_settle, submission.future, answer)


def _settle(future: asyncio.Future, answer) -> None:
    if not future.cancelled():
        future.set_result(answer)


def _answer(batch: list[_Submission]) -> list[tuple[dict, bytes] | None]:
    """Each submission's whole response, or None for the view to take it."""
    answers: list[tuple[dict, bytes] | None] = [None] * len(batch)
    waiting = []
    for index, submission in enumerate(batch):
        refused = submission.shedder.refuse(submission)
        if refused is not False:  # a 503, or None when the client has gone
            answers[index] = refused
        else:
            waiting.append((index, submission))
    users = _tokens.authenticate_many([submission.token for _, submission in waiting])
    taken = [(index, submission, found[0]) for (index, submission), found
             in zip(waiting, users, strict=True) if found is not None]
    results = jobs_create([JobRequest(user=user, selfie_id=submission.selfie_id,
                                      style=submission.style) for _, submission, user in taken])
    accepted = [(index, submission, job) for (index, submission, _), job
                in zip(taken, results, strict=True) if isinstance(job, Job)]
    by_origin: dict[str, list[tuple[int, _Submission, Job]]] = {}
    for item in accepted:
        by_origin.setdefault(item[1].origin, []).append(item)
    for origin, items in by_origin.items():
        # The jobs are written: from here a failure is answered, never passed on to the view,
        # which would write them again.
        try:
            states = job_states([job for _, _, job in items], origin=origin, new=True)
            for (index, submission, job), state in zip(items, states, strict=True):
                answers[index] = _accepted(submission, job, state)
        except Exception:
            logger.exception("could not answer %d written submissions", len(items))
            for index, submission, _ in items:
                answers[index] = _server_error(submission)
    return answers


_tokens = TokenAuthentication()
_renderer = JSONRenderer()


def _accepted(submission: _Submission, job: Job, state) -> tuple[dict, bytes]:
    payload = _renderer.render(represent(JobAcceptedSerializer, state))
    headers = [*_response_headers(submission.request),
               (b"location", job_location(job).encode()),
               (b"content-length", str(len(payload)).encode()),
               (REQUEST_ID_HEADER.lower().encode(), submission.request_id.encode())]
    _count(submission, status="202")
    return {"type": "http.response.start", "status": 202, "headers": headers}, payload


def _server_error(submission: _Submission) -> tuple[dict, bytes]:
    payload = json_error(500, SERVER_ERROR_MESSAGE).content
    _count(submission, status="500")
    return {"type": "http.response.start", "status": 500, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()),
        (REQUEST_ID_HEADER.lower().encode(), submission.request_id.encode())]}, payload


# {over HTTPS: the headers}, built on first use by _response_headers.
_headers: dict[bool, list[tuple[bytes, bytes]]] = {}


def _response_headers(request: WSGIRequest) -> list[tuple[bytes, bytes]]:
    """The headers every 202 of the view carries besides its own (Location, length, request
    id): DRF's, then those of the middleware that sets any on an API answer — run once per
    scheme on an empty 202, so their settings stay the only source."""
    secure = request.is_secure()
    headers = _headers.get(secure)
    if headers is None:
        response = HttpResponse(status=202, content_type=_renderer.media_type)
        response["Vary"] = "Accept"
        view = JobCollectionApi()
        view.setup(request)  # Django's View adds HEAD where there is GET
        response["Allow"] = ", ".join(view.allowed_methods)
        for middleware_class in (SecurityMiddleware, CSPMiddleware, XFrameOptionsMiddleware):
            middleware_class(lambda _request: response).process_response(request, response)
        headers = _headers[secure] = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in response.items() if name.lower() != "content-length"]
    return headers


def _count(submission: _Submission, *, status: str) -> None:
    """What django-prometheus's middleware counts for a request to the view."""
    metrics = Metrics.get_instance()
    metrics.requests_total.inc()
    metrics.responses_total.inc()
    metrics.requests_by_method.labels(method="POST").inc()
    metrics.requests_by_transport.labels(transport="http").inc()
    metrics.requests_by_view_transport_method.labels(view=VIEW_NAME, transport="http",
                                                     method="POST").inc()
    metrics.responses_by_status.labels(status=status).inc()
    metrics.responses_by_status_view_method.labels(status=status, view=VIEW_NAME,
                                                   method="POST").inc()
    seconds = time.perf_counter() - submission.started
    metrics.requests_latency_before.observe(seconds)
    metrics.requests_latency_by_view_method.labels(view=VIEW_NAME, method="POST").observe(seconds)
