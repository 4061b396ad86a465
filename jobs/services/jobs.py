"""Creating, canceling and retrying jobs. Never calls a provider: the engine does, later."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from common.exceptions import ApplicationError
from common.group_commit import GroupCommit
from jobs.dispatch import redis as dispatch_redis
from jobs.dispatch.wakeup import request_dispatch, request_provider_cancel
from jobs.line import line_key, next_round, round_of
from jobs.models import TERMINAL_STATUSES, IdempotencyKey, Job, JobEvent, JobStatus, Selfie
from jobs.selectors import (
    SubmitInputs,
    job_get_for_user,
    line_serving_round,
    submit_inputs,
    submit_inputs_many,
    user_line_summary,
)
from jobs.services.transitions import (
    job_created_committed,
    job_record_created,
    job_transition,
    jobs_record_created,
)
from jobs.stages import STAGE_TEXT
from jobs.styles import STYLES, style_get

IDEMPOTENCY_TTL = timedelta(hours=24)
_READ = object()  # "read it yourself": None is a valid serving round, and a valid read
QUOTA_RETRY_AFTER_SECONDS = 30


def _refuse_over_quota(active_jobs: int) -> None:
    """Refuse beyond the fair-use quota."""
    limit = settings.MAX_ACTIVE_JOBS_PER_USER
    if active_jobs >= limit:
        raise ApplicationError(
            f"You already have {limit} videos in progress. Wait for one to finish, then try again.",
            status_code=429, extra={"limit": limit},
            headers={"Retry-After": str(QUOTA_RETRY_AFTER_SECONDS)})


def _check_quota(user) -> int:
    """Refuse beyond the fair-use quota; returns the round of the user's latest unfinished job."""
    active, last_round = user_line_summary(user=user)
    _refuse_over_quota(active)
    return last_round


def job_enqueue(*, user, selfie: Selfie, style: str, users_last_round: int | None = None,
                serving_round: int | None | object = _READ, retry_of: Job | None = None,
                source: str = "api") -> Job:
    """Insert a queued job in its place in line, with its first event; wake the dispatcher
    once committed. The reads happen before the write transaction, which stays two inserts;
    on SQLite, outside a transaction, shared with the submissions that arrive meanwhile."""
    if users_last_round is None:
        users_last_round = user_line_summary(user=user)[1]
    if serving_round is _READ:
        serving_round = line_serving_round()
    job = _new_job(user=user, selfie=selfie, style=style, retry_of=retry_of,
                   round_=next_round(users_last_round=users_last_round,
                                     serving_round=serving_round))
    if transaction.get_connection().in_atomic_block or not _one_writer_at_a_time():
        with dispatch_redis.one_round_trip(), transaction.atomic():  # on-commit: one round trip
            job.save(force_insert=True)
            job_record_created(job, source=source)
            transaction.on_commit(functools.partial(request_dispatch, newcomer=True))
        return job
    event = _new_jobs.submit((job, source))
    with dispatch_redis.one_round_trip():
        job_created_committed(job, event)
        request_dispatch(newcomer=True)
    return job


def _new_job(*, user, selfie: Selfie, style: str, round_: int, retry_of: Job | None = None
             ) -> Job:
    return Job(user=user, selfie=selfie, style=style, retry_of=retry_of, status=JobStatus.QUEUED,
               stage=STAGE_TEXT[JobStatus.QUEUED],
               line_key=line_key(round_=round_, at=timezone.now()), last_seq=1)


@dataclass(frozen=True)
class JobRequest:
    """One submission of many (jobs_create): what job_create takes without an Idempotency-Key."""

    user: object
    selfie_id: object
    style: str


def jobs_create(requests: Sequence[JobRequest], *, source: str = "api"
                ) -> list[Job | ApplicationError]:
    """Queue many submissions at once, each checked as job_create checks one: a refused one gets
    its ApplicationError in its place and the others go on. The accepted are inserted in one
    transaction (two inserts) and tell Redis in one round trip. A user's submissions within
    the call count against their quota and take their places in line one after the other, as
    if sent one by one. Raises if the insert fails: then nothing was written."""
    results: list[Job | ApplicationError] = []
    created: list[tuple[Job, str]] = []
    accepted: dict[object, list[Job]] = {}
    reads = submit_inputs_many([(request.user, request.selfie_id) for request in requests])
    for request, read in zip(requests, reads, strict=True):
        earlier = accepted.setdefault(request.user.pk, [])
        try:
            inputs = _validated_inputs(user=request.user, selfie_id=request.selfie_id,
                                       style=request.style, already_accepted=len(earlier),
                                       read=read)
        except ApplicationError as error:
            results.append(error)
            continue
        users_last_round = max([inputs.users_last_round,
                                *(round_of(job.line_key) for job in earlier)])
        job = _new_job(user=request.user, selfie=inputs.selfie, style=request.style,
                       round_=next_round(users_last_round=users_last_round,
                                         serving_round=inputs.serving_round))
        earlier.append(job)
        created.append((job, source))
        results.append(job)
    if created:
        events = _insert_new_jobs(created)
        with dispatch_redis.one_round_trip():
            for (job, _), event in zip(created, events, strict=True):
                job_created_committed(job, event)
            request_dispatch(newcomer=True)
    return results


def _insert_new_jobs(created: Sequence[tuple[Job, str]]) -> list[JobEvent]:
    """New jobs and their first events, (job, source) each, in one transaction: two inserts."""
    with transaction.atomic():
        Job.objects.bulk_create([job for job, _ in created])
        return jobs_record_created(created)


# Submissions that arrive while others are being inserted go in together (common/group_commit.py).
_new_jobs: GroupCommit[tuple[Job, str], JobEvent] = GroupCommit(_insert_new_jobs)


def _one_writer_at_a_time() -> bool:
    """SQLite runs one write transaction at a time, machine-wide: a submission that waits for
    another's insert loses nothing and shares the next one. PostgreSQL runs them side by side;
    there, sharing made a spike on the production topology worse (BENCHMARKS.md)."""
    return transaction.get_connection().vendor == "sqlite"


def _validated_inputs(*, user, selfie_id, style: str, already_accepted: int = 0,
                      read: SubmitInputs | None | object = _READ) -> SubmitInputs:
    """The submission's reads (one query, unless `read` already), or a 400 that says what to
    fix, or the quota's 429 (counting `already_accepted` jobs of this user not yet written)."""
    if style_get(style) is None:
        raise ApplicationError(
            f"Unknown style {style!r}. Pick one of: {', '.join(sorted(STYLES))}.",
            extra={"style": [f"Choose one of: {', '.join(sorted(STYLES))}."]})
    inputs = submit_inputs(user=user, selfie_id=selfie_id) if read is _READ else read
    if inputs is None:
        raise ApplicationError("No selfie with this id. Upload a selfie first.",
                               extra={"selfie_id": ["No selfie with this id."]})
    _refuse_over_quota(inputs.active_jobs + already_accepted)
    return inputs


def _enqueue_submission(*, user, style: str, inputs: SubmitInputs) -> Job:
    return job_enqueue(user=user, selfie=inputs.selfie, style=style,
                       users_last_round=inputs.users_last_round,
                       serving_round=inputs.serving_round)


def request_fingerprint(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def job_create(*, user, selfie_id, style: str, idempotency_key: str | None = None
               ) -> tuple[Job, bool]:
    """Queue a new job; returns (job, replayed). Replays honour the Idempotency-Key draft."""
    if not idempotency_key:
        inputs = _validated_inputs(user=user, selfie_id=selfie_id, style=style)
        return _enqueue_submission(user=user, style=style, inputs=inputs), False

    fingerprint = request_fingerprint({"selfie_id": str(selfie_id), "style": style})
    replay = _idempotent_replay(user=user, key=idempotency_key, fingerprint=fingerprint)
    if replay is not None:
        return replay, True
    claim = _claim_key(user=user, key=idempotency_key, fingerprint=fingerprint)
    try:
        inputs = _validated_inputs(user=user, selfie_id=selfie_id, style=style)
        with dispatch_redis.one_round_trip(), transaction.atomic():
            job = _enqueue_submission(user=user, style=style, inputs=inputs)
            IdempotencyKey.objects.filter(pk=claim.pk).update(job=job)
    except BaseException:
        claim.delete()  # a refused request may be retried with the same key
        raise
    return job, False


def _idempotent_replay(*, user, key: str, fingerprint: str) -> Job | None:
    IdempotencyKey.objects.filter(user=user, key=key,
                                  created_at__lt=timezone.now() - IDEMPOTENCY_TTL).delete()
    existing = IdempotencyKey.objects.filter(user=user, key=key).select_related("job").first()
    if existing is None:
        return None
    if existing.request_hash != fingerprint:
        raise ApplicationError(
            "This Idempotency-Key was already used with a different request body. "
            "Use a new key for a new request.", status_code=422,
            extra={"idempotency_key": ["Reused with a different body."]})
    if existing.job is None:
        raise ApplicationError(
            "A request with this Idempotency-Key is still being processed. Retry shortly.",
            status_code=409, headers={"Retry-After": "1"})
    return existing.job


def _claim_key(*, user, key: str, fingerprint: str) -> IdempotencyKey:
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(user=user, key=key, request_hash=fingerprint)
    except IntegrityError:  # a concurrent request with the same key got there first
        replay = _idempotent_replay(user=user, key=key, fingerprint=fingerprint)
        raise ApplicationError(
            "A request with this Idempotency-Key is still being processed. Retry shortly.",
            status_code=409, extra={"job_id": str(replay.id) if replay else None}) from None


def job_cancel(*, user, job_id, source: str = "api") -> Job:
    """Cancel a job that has not finished; the engine then cancels it at the provider."""
    job = job_get_for_user(user=user, job_id=job_id)
    return job_cancel_any(job=job, source=source)


def job_cancel_any(*, job: Job, source: str) -> Job:
    """Cancel without an ownership check (admin, engine)."""
    if job.status in TERMINAL_STATUSES:
        raise ApplicationError(f"This job has already {job.status}; there is nothing to cancel.",
                               status_code=409, extra={"status": job.status})
    previous = {"provider": job.provider, "provider_job_id": job.provider_job_id}
    transition = job_transition(job_id=job.id, status=JobStatus.CANCELED, source=source,
                                stage="Canceled", fields={"cancel_requested": True},
                                detail={"reason": "canceled by " + source})
    if not transition.applied:
        raise ApplicationError("This job has just finished; there is nothing to cancel.",
                               status_code=409, extra={"status": transition.job.status})
    if previous["provider_job_id"]:
        transaction.on_commit(lambda: request_provider_cancel(job_id=job.id, **previous))
    return transition.job


def job_retry(*, user, job_id) -> Job:
    """A new job with the same selfie and style as a failed or canceled one."""
    return job_retry_any(job=job_get_for_user(user=user, job_id=job_id), source="api")


def job_retry_any(*, job: Job, source: str) -> Job:
    """Retry without an ownership check (admin); the new job is the owner's, within their
    quota."""
    if job.status not in (JobStatus.FAILED, JobStatus.CANCELED):
        raise ApplicationError("Only failed or canceled jobs can be retried.", status_code=409,
                               extra={"status": job.status})
    if job.selfie is None:
        raise ApplicationError("The selfie of this job was deleted; upload it again.",
                               status_code=409, extra={"selfie_id": ["Deleted."]})
    last_round = _check_quota(job.user)
    return job_enqueue(user=job.user, selfie=job.selfie, style=job.style,
                       users_last_round=last_round, retry_of=job, source=source)
