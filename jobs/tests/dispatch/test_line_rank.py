"""The line's index in Redis: places in line as ranks, kept by the state machine's commits."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest

from jobs.dispatch import line_rank
from jobs.dispatch import redis as dispatch_redis
from jobs.models import Job, JobStatus
from jobs.selectors import queue_positions, queued_jobs_in_dispatch_order
from jobs.services.dispatch import job_requeue
from jobs.services.jobs import job_cancel_any
from jobs.services.transitions import job_transition


def places_in_the_database() -> dict[str, int]:
    return {str(job_id): place for place, job_id
            in enumerate(queued_jobs_in_dispatch_order().values_list("id", flat=True))}


def places_in_the_index() -> dict[str, int] | None:
    return line_rank.places(Job.objects.filter(status=JobStatus.QUEUED))


def forget_the_index() -> None:
    """What a Redis restart leaves: nothing of the index."""
    client = dispatch_redis.client()
    client.delete(*[dispatch_redis.key("line", name) for name in ("jobs", "seeded", "version")])


@pytest.fixture
def line(make_user, make_jobs):
    """Two users' jobs in fair-share order (ann's three, bob's two), the index seeded."""
    ann, bob = make_user(), make_user()
    jobs = make_jobs(ann, 3) + make_jobs(bob, 2)
    assert line_rank.resync() is True
    return jobs


def test_places_follow_the_line_through_every_move(line, make_user, make_jobs):
    first, second, third, *_ = line
    assert places_in_the_index() == places_in_the_database()
    job_transition(job_id=first.id, status=JobStatus.DISPATCHING, source="test",
                   expect={"status": JobStatus.QUEUED})  # dispatched: leaves the line
    assert places_in_the_index() == places_in_the_database()
    job_cancel_any(job=Job.objects.get(pk=third.id), source="test")
    assert places_in_the_index() == places_in_the_database()
    make_jobs(make_user(), 2)  # a newcomer's jobs go ahead of ann's later rounds
    assert places_in_the_index() == places_in_the_database()
    job_requeue(job=Job.objects.get(pk=first.id), reason="rate_limited", head=True)
    places = places_in_the_index()
    assert places == places_in_the_database() and places[str(first.id)] == 0
    assert line_rank.resync() is None  # in step: nothing rebuilt


def test_a_pass_with_the_index_in_step_reads_no_row_of_the_line(
        line, django_assert_num_queries):
    """The reconciler's pass runs in the dispatcher: one count, not thousands of rows."""
    with django_assert_num_queries(1) as queries:
        assert line_rank.resync() is None
    assert "COUNT(" in queries.captured_queries[0]["sql"].upper()


def test_a_new_job_knows_its_place_from_its_commit_round_trip(line, make_user, make_jobs):
    """The 202 answering a submission names its place without asking Redis again."""
    [job] = make_jobs(make_user())
    client = dispatch_redis.client()
    client.delete(dispatch_redis.key("line", "jobs"))  # Redis would now answer 0 for anyone
    assert line_rank.places([job]) == {str(job.id): places_in_the_database()[str(job.id)]}
    assert line_rank.places([job]) == {str(job.id): 0}  # used once: then Redis is asked


def test_a_place_is_read_without_counting_the_line_in_the_database(
        line, django_assert_num_queries):
    """With 4,000 waiting, that count was ~1 ms of PostgreSQL per status poll."""
    jobs = list(Job.objects.filter(pk__in=[job.id for job in line]))
    with django_assert_num_queries(0):
        places = queue_positions(jobs=jobs)
    assert places == places_in_the_database()


def test_an_index_lost_with_redis_is_not_trusted_until_rebuilt(line, make_user, make_jobs):
    forget_the_index()
    make_jobs(make_user())  # a change after the loss: the index holds only this one now
    assert places_in_the_index() is None
    jobs = list(Job.objects.filter(status=JobStatus.QUEUED))
    assert queue_positions(jobs=jobs) == places_in_the_database()  # from the database
    assert line_rank.resync() is True
    assert places_in_the_index() == places_in_the_database()


def test_a_rebuild_overtaken_by_a_change_is_not_applied(line, monkeypatch):
    """A change committed while the rebuild read the database would be undone by it."""
    forget_the_index()
    stranger = SimpleNamespace(id=uuid.uuid4())
    build_member = line_rank.member

    def read_then_a_change_lands(**kwargs):
        if not changes:
            changes.append(stranger)
            line_rank.record_move(job=stranger, left=None, joined=1)
        return build_member(**kwargs)

    changes = []
    monkeypatch.setattr(line_rank, "member", read_then_a_change_lands)
    assert line_rank.resync() is False
    assert places_in_the_index() is None  # still not trusted: the database answers
    monkeypatch.undo()
    assert line_rank.resync() is True
    assert places_in_the_index() == places_in_the_database()
