"""Driving an ASGI app (a fast lane, or the thread pool alone for the view's answers) as a
server would, for the tests of common/fast_lane.py's lanes."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid

from django.core.handlers.wsgi import WSGIHandler
from knox.models import AuthToken

from accounts.models import User
from common.wsgi_threads import ThreadPoolWsgi


def api_client(make_selfie, **extra) -> dict:
    """A user with an API token and a selfie."""
    user = User.objects.create_user(f"{uuid.uuid4().hex[:10]}@example.com", "x-Strong-Pass-99",
                                    **extra)
    return {"user": user, "token": AuthToken.objects.create(user)[1],
            "selfie_id": str(make_selfie(user).id)}


async def send(app, req, *, client_leaves: asyncio.Event | None = None):
    """One request ({method, path, query, headers, body}); its client stays until answered
    unless `client_leaves` is set. (status, headers, body), or None if nothing was sent."""
    sent, chunks = [], [{"type": "http.request", "body": req["body"]}]

    async def receive():
        if chunks:
            return chunks.pop(0)
        await (client_leaves or asyncio.Event()).wait()
        return {"type": "http.disconnect"}

    async def record(message):
        sent.append(message)
    scope = {"type": "http", "method": req["method"], "path": req["path"],
             "query_string": req["query"], "http_version": "1.1", "headers": req["headers"],
             "server": ("testserver", 80), "scheme": "http"}
    await app(scope, receive, record)
    if not sent:
        return None
    headers = {name.decode(): value.decode() for name, value in sent[0]["headers"]}
    return sent[0]["status"], headers, b"".join(m.get("body", b"") for m in sent[1:])


def one(app, req):
    return asyncio.run(send(app, req))


def csp(headers: dict) -> set[str]:
    """The Content-Security-Policy's directives (taken out of `headers`): their order varies."""
    return {part.strip() for part in headers.pop("content-security-policy").split(";")}


@contextlib.contextmanager
def lane_apps(lane_class, **pool_options):
    """A maker of (the lane in front of a thread pool, the thread pool alone: the view's
    answers), built with the settings of the moment (Django's middleware reads them once);
    every lane made is closed at the end."""
    fronts = []

    def make():
        pool = ThreadPoolWsgi(WSGIHandler(), **{"threads": 1, "read_threads": 1,
                                                "max_body_bytes": 1 << 20, **pool_options})
        fronts.append(lane_class(pool))
        return fronts[-1], pool
    try:
        yield make
    finally:
        for front in fronts:
            front.close()


class FirstCallHeld:
    """`owner.name` wrapped so that its first call waits until released: the lane's thread is
    then inside its first batch, and what arrives meanwhile waits for the next. `sizes` are
    the lengths of each call's first argument."""

    def __init__(self, monkeypatch, owner, name: str):
        self.sizes: list[int] = []
        self.holding, self.release = threading.Event(), threading.Event()
        wrapped = getattr(owner, name)

        def held(first, *args, **kwargs):
            self.sizes.append(len(first))
            if not self.holding.is_set():
                self.holding.set()
                assert self.release.wait(30)
            return wrapped(first, *args, **kwargs)
        monkeypatch.setattr(owner, name, held)

    async def behind_first(self, front, first, later: list, *, before_release=None):
        """Send `first`; once its batch is held, send `later` (requests, or (request, options
        for `send`)), wait until they all wait for the lane, await `before_release()` if given,
        release. Every answer, in order."""
        first_answer = asyncio.ensure_future(send(front, first))
        while not self.holding.is_set():
            await asyncio.sleep(0.01)
        answers = [asyncio.ensure_future(send(front, req[0], **req[1]) if isinstance(req, tuple)
                                         else send(front, req)) for req in later]
        while front.batcher.queue.qsize() < len(later):
            await asyncio.sleep(0.01)
        if before_release is not None:
            await before_release()
        self.release.set()
        return await asyncio.gather(first_answer, *answers)


def client_leaving(monkeypatch, pending_class) -> tuple[dict, object]:
    """(the options for `send` of a client that will leave, a coroutine function that makes it
    leave and returns once the lane has been told)."""
    told = threading.Event()
    on_receive = pending_class.on_receive

    def observed(pending, watcher):
        on_receive(pending, watcher)
        if pending.abandoned:
            told.set()
    monkeypatch.setattr(pending_class, "on_receive", observed)
    leaves = asyncio.Event()

    async def left():
        leaves.set()
        while not told.is_set():
            await asyncio.sleep(0.01)
    return {"client_leaves": leaves}, left


def call_sizes(monkeypatch, owner, name: str) -> list[int]:
    """The lengths of the first argument of each call of `owner.name` from now on (e.g. the
    batches a lane wrote or read)."""
    sizes: list[int] = []
    wrapped = getattr(owner, name)

    def counting(first, *args, **kwargs):
        sizes.append(len(first))
        return wrapped(first, *args, **kwargs)
    monkeypatch.setattr(owner, name, counting)
    return sizes
