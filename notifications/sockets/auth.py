"""WebSocket authentication: browser sessions (same-origin only) or API tokens (mobile); and
closing the sockets of credentials that ended (logout, password change or reset)."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs, urlparse

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import OriginValidator, WebsocketDenier
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import split_domain_port, validate_host

from accounts.selectors import token_user
from jobs.events import publish, user_group


def token_from_scope(scope) -> str | None:
    """`Authorization: Token <key>` header, else the `?token=<key>` query parameter."""
    for name, value in scope.get("headers", []):
        if name == b"authorization":
            scheme, _, key = value.decode("latin1").partition(" ")
            if scheme.lower() == "token" and key.strip():
                return key.strip()
    values = parse_qs(scope.get("query_string", b"").decode("latin1")).get("token")
    return values[0] if values else None


@database_sync_to_async
def _user_for_token(key: str) -> tuple:
    found = token_user(key=key)
    return found if found else (AnonymousUser(), None)


class TokenAuthMiddleware:
    """A token, when sent, decides who the user is (a bad one means anonymous, not the session).
    The token's id goes into the scope, so its sockets close when it is revoked."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        key = token_from_scope(scope)
        if key is not None:
            user, token = await _user_for_token(key)
            scope = dict(scope, user=user, auth_token=token.pk if token else None)
        return await self.inner(scope, receive, send)


def TokenAuthMiddlewareStack(inner):  # noqa: N802 - named like Channels' AuthMiddlewareStack
    return AuthMiddlewareStack(TokenAuthMiddleware(inner))


class OriginGuard:
    """Browsers send Origin: only our own origins may use the session cookie (no cross-site
    WebSocket hijacking). Like Django's CSRF check, an origin is ours when it is the socket's
    own (scheme, allowed Host, port) or one of CSRF_TRUSTED_ORIGINS, compared by scheme, host
    AND port: a page on the S3 port or on localhost:9999 is another origin. Native apps send
    no Origin: they get in, but without cookies, so only a token can authenticate them."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        headers = scope.get("headers", [])
        origin = next((value for name, value in headers if name == b"origin"), None)
        if origin is None:
            scope = dict(scope, headers=[(n, v) for n, v in headers if n != b"cookie"])
            return await self.inner(scope, receive, send)
        if origin_allowed(scope, origin.decode("latin1")):
            return await self.inner(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)  # the handshake gets a 403


def _own_origin(scope) -> str | None:
    """The origin a same-origin page has: the socket's scheme and its Host, when allowed."""
    host = next((value.decode("latin1") for name, value in scope.get("headers", [])
                 if name == b"host"), "")
    domain, _port = split_domain_port(host)
    allowed = settings.ALLOWED_HOSTS or (["localhost", "127.0.0.1", "[::1]"]
                                         if settings.DEBUG else [])
    if not domain or not validate_host(domain, allowed):
        return None
    return f"{'https' if scope.get('scheme') == 'wss' else 'http'}://{host}"


def origin_allowed(scope, origin: str) -> bool:
    parsed = urlparse(origin.strip().lower())
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return False  # "null" (sandboxed frames, file: pages) and anything odd
    # Django writes subdomain wildcards as https://*.example.com, Channels as https://.example.com.
    patterns = [pattern.replace("://*.", "://.") for pattern in settings.CSRF_TRUSTED_ORIGINS]
    own = _own_origin(scope)
    if own:
        patterns.append(own)
    matcher = OriginValidator(None, patterns)  # Channels' scheme + host + default-port match
    return any(matcher.match_allowed_origin(parsed, pattern) for pattern in patterns)


def session_ref(session_key: str | None) -> str | None:
    """What sign-out messages carry instead of a session key: Redis never sees the key."""
    return hashlib.sha256(session_key.encode()).hexdigest()[:32] if session_key else None


def on_sign_out(*, user_id: int, session_key: str | None = None, token_id: str | None = None,
                keep_session_key: str | None = None) -> None:
    """SIGN_OUT_HOOKS entry: tell the user's sockets which credential ended (a session, a
    token, or all of them but one session); the consumers close the matching ones."""
    publish([(user_group(user_id), {"type": "auth.revoked", "session": session_ref(session_key),
                                    "token": token_id,
                                    "keep_session": session_ref(keep_session_key)})])


def signed_out(scope, message: dict) -> bool:
    """Whether an `auth.revoked` message ends the credential this socket was opened with."""
    token = scope.get("auth_token")
    session = None if token else session_ref(getattr(scope.get("session"), "session_key", None))
    if message.get("session") or message.get("token"):
        return ((session is not None and session == message.get("session"))
                or (token is not None and token == message.get("token")))
    return session is None or session != message.get("keep_session")
