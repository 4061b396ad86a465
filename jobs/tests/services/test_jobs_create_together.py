"""jobs_create: many submissions checked one by one, written together."""

from __future__ import annotations

import pytest

from common.exceptions import ApplicationError
from jobs.dispatch import redis as dispatch_redis
from jobs.line import round_of
from jobs.models import Job, JobEvent, JobStatus
from jobs.services import jobs as job_services
from jobs.services.jobs import JobRequest, jobs_create

pytestmark = pytest.mark.django_db
STYLE = "cyberpunk-hero"


def test_the_accepted_are_written_in_one_transaction_and_one_redis_round_trip(
        user, other_user, make_selfie, monkeypatch):
    mine, theirs = make_selfie(user), make_selfie(other_user)
    inserts, round_trips = [], []
    insert, execute = job_services._insert_new_jobs, dispatch_redis._execute
    monkeypatch.setattr(job_services, "_insert_new_jobs",
                        lambda created: inserts.append(len(created)) or insert(created))
    monkeypatch.setattr(dispatch_redis, "_execute",
                        lambda batch: round_trips.append(len(batch)) or execute(batch))

    results = jobs_create([JobRequest(user=user, selfie_id=mine.id, style=STYLE),
                           JobRequest(user=other_user, selfie_id=theirs.id, style=STYLE)])

    assert [job.status for job in results] == [JobStatus.QUEUED, JobStatus.QUEUED]
    assert [job.user for job in results] == [user, other_user]
    assert inserts == [2]
    assert len(round_trips) == 1
    assert JobEvent.objects.filter(job__in=results, seq=1).count() == 2


def test_a_refused_submission_gets_its_error_and_the_others_go_on(user, other_user,
                                                                   make_selfie):
    mine, theirs = make_selfie(user), make_selfie(other_user)

    results = jobs_create([JobRequest(user=user, selfie_id=theirs.id, style=STYLE),
                           JobRequest(user=user, selfie_id=mine.id, style="no-such-style"),
                           JobRequest(user=user, selfie_id=mine.id, style=STYLE)])

    assert isinstance(results[0], ApplicationError)
    assert results[0].extra == {"selfie_id": ["No selfie with this id."]}
    assert isinstance(results[1], ApplicationError) and "style" in results[1].extra
    assert isinstance(results[2], Job)
    assert list(Job.objects.values_list("id", flat=True)) == [results[2].id]


def test_a_users_submissions_count_against_the_quota_and_queue_one_after_another(
        user, make_selfie, settings):
    settings.MAX_ACTIVE_JOBS_PER_USER = 2
    selfie = make_selfie(user)

    results = jobs_create([JobRequest(user=user, selfie_id=selfie.id, style=STYLE)] * 3)

    first, second, refused = results
    assert isinstance(refused, ApplicationError) and refused.status_code == 429
    assert round_of(second.line_key) == round_of(first.line_key) + 1
    assert Job.objects.count() == 2


def test_when_the_events_cannot_be_written_neither_are_the_jobs_nor_announced(
        user, make_selfie, monkeypatch):
    selfie = make_selfie(user)
    round_trips = []
    monkeypatch.setattr(dispatch_redis, "_execute", round_trips.append)

    def failing(created):
        raise RuntimeError("the database went away")
    monkeypatch.setattr(job_services, "jobs_record_created", failing)

    with pytest.raises(RuntimeError):
        jobs_create([JobRequest(user=user, selfie_id=selfie.id, style=STYLE)] * 2)
    assert not Job.objects.exists()
    assert round_trips == []
