"""job_create, job_cancel and job_retry against the real database."""

from __future__ import annotations

import uuid

import pytest
from django.http import Http404

from common.exceptions import ApplicationError
from jobs.models import IdempotencyKey, Job, JobStatus
from jobs.services.jobs import job_cancel, job_create, job_retry, request_fingerprint
from jobs.services.transitions import job_transition

pytestmark = pytest.mark.django_db
STYLE = "cyberpunk-hero"


def create(user, selfie, key=None, style=STYLE):
    return job_create(user=user, selfie_id=selfie.id, style=style, idempotency_key=key)


def status_of(error: pytest.ExceptionInfo) -> int:
    return error.value.status_code


def test_creates_a_queued_job_with_its_first_event(user, selfie):
    job, replayed = create(user, selfie)
    assert not replayed and job.status == JobStatus.QUEUED
    assert list(job.events.values_list("seq", "status")) == [(1, "queued")]


def test_same_key_and_body_replays_the_same_job(user, selfie):
    first, _ = create(user, selfie, key="k-1")
    again, replayed = create(user, selfie, key="k-1")
    assert replayed and again.id == first.id and Job.objects.count() == 1


def test_same_key_other_body_is_422(user, selfie):
    create(user, selfie, key="k-1")
    with pytest.raises(ApplicationError) as error:
        create(user, selfie, key="k-1", style="other")
    assert status_of(error) == 422


def test_retry_while_the_first_is_in_flight_is_409(user, selfie):
    fingerprint = request_fingerprint({"selfie_id": str(selfie.id), "style": STYLE})
    IdempotencyKey.objects.create(user=user, key="k-1", request_hash=fingerprint)
    with pytest.raises(ApplicationError) as error:
        create(user, selfie, key="k-1")
    assert status_of(error) == 409


def test_keys_are_scoped_per_user(user, other_user, selfie, make_selfie):
    mine, _ = create(user, selfie, key="shared")
    theirs, replayed = create(other_user, make_selfie(other_user), key="shared")
    assert not replayed and theirs.id != mine.id


def test_a_refused_request_frees_its_key(user, selfie):
    with pytest.raises(ApplicationError):
        create(user, selfie, key="k-1", style="nope")
    job, replayed = create(user, selfie, key="k-1")
    assert not replayed and job.status == JobStatus.QUEUED


def test_quota_is_429_with_retry_after(user, selfie, settings):
    settings.MAX_ACTIVE_JOBS_PER_USER = 2
    create(user, selfie)
    create(user, selfie)
    with pytest.raises(ApplicationError) as error:
        create(user, selfie)
    assert status_of(error) == 429 and error.value.headers["Retry-After"]


def test_someone_elses_selfie_is_refused(other_user, selfie):
    with pytest.raises(ApplicationError) as error:
        create(other_user, selfie)
    assert status_of(error) == 400 and "selfie_id" in error.value.extra


def test_cancel_then_cancel_again_is_409(user, selfie):
    job, _ = create(user, selfie)
    assert job_cancel(user=user, job_id=job.id).status == JobStatus.CANCELED
    with pytest.raises(ApplicationError) as error:
        job_cancel(user=user, job_id=job.id)
    assert status_of(error) == 409


def test_retry_only_failed_or_canceled(user, selfie):
    job, _ = create(user, selfie)
    with pytest.raises(ApplicationError) as error:
        job_retry(user=user, job_id=job.id)
    assert status_of(error) == 409
    job_transition(job_id=job.id, status=JobStatus.FAILED, source="test",
                   fields={"error_code": "provider_error", "error_message": "boom"})
    retry = job_retry(user=user, job_id=job.id)
    assert retry.retry_of_id == job.id and retry.status == JobStatus.QUEUED


def test_malformed_ids_are_not_found(user):
    with pytest.raises(Http404):
        job_cancel(user=user, job_id="not-a-uuid")
    with pytest.raises(Http404):
        job_cancel(user=user, job_id=uuid.uuid4())
