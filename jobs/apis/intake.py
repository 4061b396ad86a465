"""The submission intake: the common `POST /api/v1/jobs/` answered without a request thread.

A submission through Django's handler, its middleware and DRF costs ~10 × `/healthz` in CPU,
and each takes a thread of its own, a write transaction of its own and a Redis round trip of
its own (BENCHMARKS.md, fourteenth pass). Here the event loop takes the common case — an API
token, a JSON body of exactly `selfie_id` and `style`, no Idempotency-Key, JSON wanted back —
and hands it to one writer thread per process, which checks, inserts and announces every
submission waiting at that moment together (jobs_create: one transaction, one Redis round
trip) and answers each `202` once its job is committed, with the body the API view would
give (the same presenter and serializer).

Everything else — and any submission the writer would refuse (a bad token, someone else's
selfie, the quota) or could not write — goes on to the API view unchanged, with the body
already read, so every error keeps its one source and its exact answer. A client that left
while its submission waited gets no job; one that waited past WEB_QUEUE_TIMEOUT is answered
503 as the thread pool answers it (common/wsgi_threads.py).
"""

from __future__ import annotations

import json
import logging
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
    server_error,
    single_headers,
    wants_json,
)
from jobs.apis.base import UserApi
from jobs.apis.jobs import JobAcceptedSerializer, JobCollectionApi, job_location
from jobs.models import Job
from jobs.presenter import job_states
from jobs.services.jobs import JobRequest, jobs_create
from jobs.styles import style_get

logger = logging.getLogger(__name__)
VIEW_NAME = "api-jobs"
_FIELDS = frozenset({"selfie_id", "style"})
_HEADERS = frozenset({b"authorization", b"content-type", b"content-length", b"accept",
                      b"idempotency-key", b"transfer-encoding"})


class SubmissionIntake(FastLane):
    """ASGI `http` application in front of `app` (the ThreadPoolWsgi serving Django)."""

    thread_name = "http-intake"

    def __init__(self, app, *, max_batch: int = MAX_BATCH):
        super().__init__(app, max_batch=max_batch)
        self.path = reverse(VIEW_NAME)
        self.max_body_bytes = UserApi.max_body_bytes

    def take(self, scope) -> bytes | None:
        """The API token of a request the writer can answer exactly as the view would."""
        if scope["method"] != "POST" or scope["path"] != self.path or scope.get("query_string"):
            return None
        headers = single_headers(scope, _HEADERS)
        if headers is None or b"idempotency-key" in headers \
                or not wants_json(headers.get(b"accept")):
            return None
        length, content_type = headers.get(b"content-length"), headers.get(b"content-type")
        if length is None or not length.isdigit() or int(length) > self.max_body_bytes \
                or b"transfer-encoding" in headers:
            return None  # no declared length (chunked): Django reads such a body as empty
        if content_type is None \
                or content_type.split(b";")[0].strip().lower() != b"application/json":
            return None
        return api_token(headers.get(b"authorization"))

    def parse(self, body: bytes, token: bytes, arrival: dict) -> _Submission | None:
        try:
            data = json.loads(body)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.keys() != _FIELDS:
            return None
        selfie_id, style = data["selfie_id"], data["style"]
        if not isinstance(selfie_id, str) or not isinstance(style, str) \
                or style_get(style) is None:
            return None
        try:
            selfie_uuid = uuid.UUID(selfie_id)
        except ValueError:
            return None
        return _Submission(**arrival, token=token, selfie_id=selfie_uuid, style=style)

    def answer(self, batch: list[_Submission]) -> list[Answer]:
        answers: list[Answer] = [None] * len(batch)
        users = _tokens.authenticate_many([submission.token for submission in batch])
        taken = [(index, submission, found[0]) for index, (submission, found)
                 in enumerate(zip(batch, users, strict=True)) if found is not None]
        results = jobs_create([JobRequest(user=user, selfie_id=submission.selfie_id,
                                          style=submission.style)
                               for _, submission, user in taken])
        accepted = [(index, submission, job) for (index, submission, _), job
                    in zip(taken, results, strict=True) if isinstance(job, Job)]
        by_origin: dict[str, list[tuple[int, _Submission, Job]]] = {}
        for item in accepted:
            by_origin.setdefault(item[1].site.origin, []).append(item)
        for origin, items in by_origin.items():
            # The jobs are written: from here a failure is answered, never passed on to the
            # view, which would write them again.
            try:
                states = job_states([job for _, _, job in items], origin=origin, new=True)
                for (index, submission, job), state in zip(items, states, strict=True):
                    answers[index] = json_answer(
                        submission, 202, represent(JobAcceptedSerializer, state),
                        view=JobCollectionApi, view_name=VIEW_NAME,
                        extra_headers=[(b"location", job_location(job).encode())])
            except Exception:
                logger.exception("could not answer %d written submissions", len(items))
                for index, submission, _ in items:
                    answers[index] = server_error(submission, view_name=VIEW_NAME)
        return answers


@dataclass(eq=False)
class _Submission(Pending):
    token: bytes = b""
    selfie_id: uuid.UUID | None = None
    style: str = ""


_tokens = TokenAuthentication()
