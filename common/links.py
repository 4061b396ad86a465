"""Absolute links: for the outside world (emails, link previews) always from PUBLIC_BASE_URL,
never from a request's Host header, which a client chooses; in an API answer, on the origin
the client called (its Host, checked against ALLOWED_HOSTS)."""

from __future__ import annotations

from django.conf import settings


def public_url(path: str) -> str:
    """`path` ("/v/abc/") on the site's public origin."""
    return f"{settings.PUBLIC_BASE_URL}{path}"


def request_origin(request) -> str:
    """"https://host" as the client called it: the origin of the URLs in an API answer."""
    return request.build_absolute_uri("/").rstrip("/")
