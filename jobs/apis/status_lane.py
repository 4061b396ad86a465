"""The status lane: the common `GET /api/v1/jobs/<id>/` answered without a request thread.

A status poll through Django's handler, its middleware and DRF costs ~4 × `/healthz` in CPU
(BENCHMARKS.md, seventeenth pass), and during a spike every user polls. Here the event loop
takes the common poll — an API token, JSON wanted back, no query string — and hands it to one
reader thread per process, which checks the tokens of every poll waiting at that moment in one
query, reads their jobs in another, and answers each with the body the API view would give
(the same presenter and serializer). A poll the batch would not answer with a 200 (a bad token,
another user's job, an unknown one) goes on to the view, which gives its exact error.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.urls import reverse

from accounts.auth import TokenAuthentication
from common.api import represent
from common.fast_lane import (
    MAX_BATCH,
    Answer,
    FastLane,
    Pending,
    api_token,
    json_answer,
    single_headers,
    wants_json,
)
from jobs.apis.jobs import JobDetailApi, JobOutputSerializer
from jobs.presenter import job_states
from jobs.selectors import jobs_of_users

VIEW_NAME = "api-job-detail"
_HEADERS = frozenset({b"authorization", b"accept", b"content-length", b"transfer-encoding"})


class StatusLane(FastLane):
    """ASGI `http` application in front of `app` (the thread pool, or a lane in front of it)."""

    thread_name = "http-status"

    def __init__(self, app, *, max_batch: int = MAX_BATCH):
        super().__init__(app, max_batch=max_batch)
        self.prefix = reverse("api-jobs")  # a job's URL is this, its id and a slash

    def take(self, scope) -> bytes | None:
        """The API token of a poll the reader can answer exactly as the view would."""
        path = scope["path"]
        if scope["method"] != "GET" or not path.startswith(self.prefix) \
                or not path.endswith("/") or path.count("/", len(self.prefix)) != 1 \
                or scope.get("query_string"):
            return None
        headers = single_headers(scope, _HEADERS)
        if headers is None or not wants_json(headers.get(b"accept")) \
                or headers.get(b"content-length", b"0") != b"0" \
                or b"transfer-encoding" in headers:
            return None
        return api_token(headers.get(b"authorization"))

    def parse(self, body: bytes, token: bytes, arrival: dict) -> _Poll | None:
        try:
            job_id = uuid.UUID(arrival["scope"]["path"][len(self.prefix):-1])
        except ValueError:
            return None  # not a job's id: the view's 404
        return _Poll(**arrival, token=token, job_id=job_id)

    def answer(self, batch: list[_Poll]) -> list[Answer]:
        answers: list[Answer] = [None] * len(batch)
        users = _tokens.authenticate_many([poll.token for poll in batch])
        signed_in = [(index, poll, found[0].pk) for index, (poll, found)
                     in enumerate(zip(batch, users, strict=True)) if found is not None]
        jobs = jobs_of_users([(poll.job_id, user_id) for _, poll, user_id in signed_in])
        by_origin: dict[str, list] = {}
        for (index, poll, _), job in zip(signed_in, jobs, strict=True):
            if job is not None:
                by_origin.setdefault(poll.site.origin, []).append((index, poll, job))
        for origin, items in by_origin.items():
            states = job_states([job for _, _, job in items], origin=origin)
            for (index, poll, _), state in zip(items, states, strict=True):
                answers[index] = json_answer(poll, 200, represent(JobOutputSerializer, state),
                                             view=JobDetailApi, view_name=VIEW_NAME)
        return answers


@dataclass(eq=False)
class _Poll(Pending):
    token: bytes = b""
    job_id: uuid.UUID | None = None


_tokens = TokenAuthentication()
