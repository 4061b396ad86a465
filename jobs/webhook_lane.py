"""The webhook lane: providers' webhooks received in batches, one write transaction each.

A webhook through the view is verified and applied in a write transaction of its own: on
SQLite one turn of the machine-wide write lock per webhook, and a spike's webhooks (and the
ceiling's) are as many as its submissions, so they queue on that lock (BENCHMARKS.md,
seventeenth pass). Here the event loop takes a webhook POSTed with a declared length within
the limit and hands it to one thread per process, which verifies every webhook waiting at
that moment and receives all those about jobs we know in one transaction and one Redis round
trip, each exactly as the view receives it (jobs.webhooks.webhook_answer: the inbox, the
duplicates, the counters), and answers each as the view would.

What it would not answer with a 200 goes to the view with its body: a bad signature or body
(the view refuses and records it), a provider we don't have, fal's keys out of reach, and a
webhook about a job we don't know yet — filed in a commit of its own before looking again,
which a shared transaction would break. If the batch's transaction fails, nothing of it was
written and each webhook goes to the view alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db import transaction
from django.http import HttpHeaders, QueryDict
from django.urls import reverse

from common.fast_lane import (
    MAX_BATCH,
    Answer,
    FastLane,
    Pending,
    json_answer,
    single_headers,
    wsgi_environ,
)
from common.logs import log_context
from jobs.dispatch import redis as dispatch_redis
from jobs.services.provider_events import webhook_jobs_known
from jobs.webhooks import MAX_WEBHOOK_BYTES, webhook_answer
from providers.registry import parse_webhook

VIEW_NAME = "provider-webhook"
_HEADERS = frozenset({b"content-length", b"transfer-encoding"})
_SLUG = re.compile(r"[-a-zA-Z0-9_]+")  # Django's <slug:>


class WebhookLane(FastLane):
    """ASGI `http` application in front of `app` (the thread pool, or a lane in front of it)."""

    thread_name = "http-webhook-lane"

    def __init__(self, app, *, max_batch: int = MAX_BATCH):
        super().__init__(app, max_batch=max_batch)
        self.prefix = reverse(VIEW_NAME, kwargs={"provider": "x"})[:-len("x/")]

    def take(self, scope) -> str | None:
        """The provider of a webhook the lane can answer exactly as the view would."""
        path = scope["path"]
        if scope["method"] != "POST" or not path.startswith(self.prefix) \
                or not path.endswith("/"):
            return None
        provider = path[len(self.prefix):-1]
        if not _SLUG.fullmatch(provider) or not scope.get("query_string", b"").isascii():
            return None
        headers = single_headers(scope, _HEADERS)
        if headers is None or b"transfer-encoding" in headers:
            return None
        length = headers.get(b"content-length")
        if length is None or not length.isdigit() or int(length) > MAX_WEBHOOK_BYTES:
            return None  # the view answers 413, or reads an undeclared body as empty
        return provider

    def parse(self, body: bytes, provider: str, arrival: dict) -> _Delivery:
        return _Delivery(**arrival, provider=provider, body=body)

    def answer(self, batch: list[_Delivery]) -> list[Answer]:
        verified = []
        for index, delivery in enumerate(batch):
            with log_context(provider=delivery.provider):
                try:
                    events = parse_webhook(delivery.provider, headers=delivery.headers(),
                                           body=delivery.body)
                except Exception:  # refused, or not verifiable now: the view's to answer
                    continue
                if webhook_jobs_known(events):
                    verified.append((index, delivery, events))
        answers: list[Answer] = [None] * len(batch)
        if not verified:
            return answers
        bodies = []
        with dispatch_redis.one_round_trip(), transaction.atomic():
            for _, delivery, events in verified:
                with log_context(provider=delivery.provider):
                    bodies.append(webhook_answer(delivery.provider, events,
                                                 reference=delivery.reference()))
        for (index, delivery, _), body in zip(verified, bodies, strict=True):
            answers[index] = json_answer(delivery, 200, body, view=None, view_name=VIEW_NAME)
        return answers


@dataclass(eq=False)
class _Delivery(Pending):
    provider: str = ""
    body: bytes = field(default=b"", repr=False)

    def headers(self) -> HttpHeaders:
        """The request's headers as the view reads them (Django's, from the WSGI environ)."""
        return HttpHeaders(wsgi_environ(self.scope))

    def reference(self) -> str:
        """The submission the webhook URL names (?ref=), as the view reads it."""
        return QueryDict(self.scope.get("query_string", b"")).get("ref", "")
