"""Absolute links for the outside world (emails, link previews): always from PUBLIC_BASE_URL,
never from a request's Host header, which a client chooses."""

from __future__ import annotations

from django.conf import settings


def public_url(path: str) -> str:
    """`path` ("/v/abc/") on the site's public origin."""
    return f"{settings.PUBLIC_BASE_URL}{path}"
