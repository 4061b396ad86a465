"""Submissions that arrive while others are being inserted are inserted together."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection, transaction

from accounts.models import User
from jobs.dispatch import redis as dispatch_redis
from jobs.dispatch.wakeup import WAKE_LIST
from jobs.models import Job, JobStatus
from jobs.services import jobs as job_services
from jobs.services.jobs import job_enqueue

pytestmark = pytest.mark.django_db(transaction=True)  # threads see each other's commits
STYLE = "cyberpunk-hero"
WAIT = 30  # a bound for a busy machine, not a pace


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's one writer at a time")
def test_submissions_that_arrive_during_an_insert_share_the_next_one(make_selfie, monkeypatch,
                                                                    settings):
    settings.TASKS_RUN_INLINE = False  # the dispatcher's wake-up goes to Redis, as in production
    dispatch_redis.client().delete(dispatch_redis.key(WAKE_LIST))
    owners = [User.objects.create_user(f"{uuid.uuid4().hex[:10]}@example.com", "x-Strong-Pass-99")
              for _ in range(4)]
    selfies = {owner.pk: make_selfie(owner) for owner in owners}
    insert = job_services._new_jobs._write
    batches: list[int] = []
    first_started, release = threading.Event(), threading.Event()

    def held_insert(created):
        batches.append(len(created))
        if len(batches) == 1:
            first_started.set()
            assert release.wait(WAIT)
        return insert(created)

    monkeypatch.setattr(job_services._new_jobs, "_write", held_insert)
    made: dict[int, Job] = {}

    def submit(owner):
        try:
            made[owner.pk] = job_enqueue(user=owner, selfie=selfies[owner.pk], style=STYLE)
        finally:
            connection.close()

    first = threading.Thread(target=submit, args=(owners[0],))
    first.start()
    assert first_started.wait(WAIT)
    later = [threading.Thread(target=submit, args=(owner,)) for owner in owners[1:]]
    for thread in later:
        thread.start()
    for _ in range(WAIT * 100):  # until all three wait for the insert in progress
        if len(job_services._new_jobs._waiting) == 3:
            break
        threading.Event().wait(0.01)
    release.set()
    for thread in [first, *later]:
        thread.join(WAIT)

    assert batches == [1, 3]
    for owner in owners:  # each caller got its own job, committed with its first event
        job = Job.objects.get(pk=made[owner.pk].pk)
        assert job.user_id == owner.pk and job.selfie_id == selfies[owner.pk].pk
        assert list(job.events.values_list("seq", "status")) == [(1, JobStatus.QUEUED)]
    assert dispatch_redis.client().llen(dispatch_redis.key(WAKE_LIST)) >= 1  # woken once done


def test_a_submission_inside_a_transaction_is_undone_with_it(user, selfie, monkeypatch):
    """Inside the caller's transaction a job is not handed to the shared insert: that insert
    would run on the caller's connection, so other callers' jobs would commit or roll back
    with this caller's work. It commits, or is rolled back, with the caller's work alone."""
    shared: list[int] = []
    insert = job_services._new_jobs._write
    monkeypatch.setattr(job_services._new_jobs, "_write",
                        lambda created: shared.append(len(created)) or insert(created))
    with pytest.raises(RuntimeError), transaction.atomic():
        job_enqueue(user=user, selfie=selfie, style=STYLE)
        raise RuntimeError("the caller's work failed")
    assert not Job.objects.filter(user=user).exists()
    assert shared == []
    assert job_services._new_jobs._waiting == []
