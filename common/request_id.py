"""A request id on every web log line, echoed in the X-Request-ID response header.

An incoming X-Request-ID (from a proxy or a client) is kept when it looks like an id, so one
request can be followed across the proxy's logs and ours; anything else gets a fresh one.
"""

from __future__ import annotations

import re
import uuid

from common.logs import log_context

HEADER = "X-Request-ID"
_SANE = re.compile(r"[A-Za-z0-9._:-]{8,128}")


def request_id_from(value: str | None) -> str:
    """The incoming id if it is sane, else a new one."""
    if value and _SANE.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Sets request.request_id and the log context for the request; first in MIDDLEWARE."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.request_id = request_id_from(request.headers.get(HEADER))
        with log_context(request_id=request.request_id):
            response = self.get_response(request)
        response[HEADER] = request.request_id
        return response
