"""Web Push to an endpoint a browser gave us, without letting it point us anywhere else (SSRF).

pywebpush encrypts the payload and signs the VAPID header; the POST itself goes through
common.outbound: https to public addresses only, resolved once and connected to the checked
address (no DNS rebinding), never following a redirect.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx
from django.conf import settings
from pywebpush import webpush

from common.outbound import CheckedURL, check_public_url


def push_endpoint_check(endpoint: str) -> CheckedURL:
    """Raises common.outbound.UnsafeURL unless `endpoint` may receive pushes."""
    return check_public_url(endpoint, trusted_hosts=settings.PUSH_ALLOWED_PRIVATE_HOSTS)


@dataclass
class _Response:
    """The part of a requests.Response that pywebpush and WebPushException read."""

    status_code: int
    reason: str
    text: str
    headers: dict


class _PinnedSession:
    """Stands in for pywebpush's `requests_session`: its one POST goes to the checked address."""

    def __init__(self, checked: CheckedURL):
        self.checked = checked

    def post(self, url: str, *, data=None, headers=None, timeout=None) -> _Response:
        if url != self.checked.url:  # pywebpush posts to the subscription's endpoint
            raise ValueError("pywebpush posted to another URL than the checked one")
        options = self.checked.request_options()
        options["headers"] = {**dict(headers or {}), **options["headers"]}
        # A client per push, not a pooled one: a pool keys connections by address, and one
        # opened for another host name (SNI, certificate) must not carry this request.
        with httpx.Client(timeout=timeout) as client:
            response = client.request("POST", content=data, **options)
        return _Response(response.status_code, response.reason_phrase, response.text,
                         dict(response.headers))


def push_send(*, endpoint: str, p256dh: str, auth: str, data: str) -> None:
    """Encrypt, sign and POST one push. Raises UnsafeURL (endpoint refused, nothing sent) or
    pywebpush.WebPushException (the push service said no, a redirect included)."""
    checked = push_endpoint_check(endpoint)
    webpush(subscription_info={"endpoint": endpoint, "keys": {"p256dh": p256dh, "auth": auth}},
            data=data, vapid_private_key=settings.VAPID_PRIVATE_KEY,
            vapid_claims={"sub": settings.VAPID_SUBJECT}, ttl=24 * 3600, timeout=10,
            requests_session=_PinnedSession(checked))
