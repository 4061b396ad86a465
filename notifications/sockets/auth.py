"""WebSocket authentication: browser sessions (same-origin only) or DRF API tokens (mobile)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from channels.auth import AuthMiddlewareStack
from channels.db import database_sync_to_async
from channels.security.websocket import OriginValidator, WebsocketDenier
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.request import split_domain_port, validate_host
from rest_framework.authtoken.models import Token


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
def _user_for_token(key: str):
    try:
        token = Token.objects.select_related("user").get(key=key)
    except Token.DoesNotExist:
        return AnonymousUser()
    return token.user if token.user.is_active else AnonymousUser()


class TokenAuthMiddleware:
    """A token, when sent, decides who the user is (a bad one means anonymous, not the session)."""

    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        key = token_from_scope(scope)
        if key is not None:
            scope = dict(scope, user=await _user_for_token(key))
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
