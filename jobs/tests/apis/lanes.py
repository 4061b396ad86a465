"""Driving an ASGI app (a fast lane, or the thread pool alone for the view's answers) as a
server would, for the tests of common/fast_lane.py's lanes."""

from __future__ import annotations

import asyncio
import uuid

from knox.models import AuthToken

from accounts.models import User


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
