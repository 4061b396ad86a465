"""notifications/sockets/queue_broadcast.py: every queue position from one query, one message per user, coalesced."""

from __future__ import annotations

import time
from unittest import mock

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django_q.brokers import get_broker
from django_q.signing import SignedPackage

from accounts.models import User
from jobs.dispatch import redis as dispatch_redis
from jobs.services.transitions import job_transition
from notifications.sockets import queue_broadcast
from notifications.tests.conftest import make_job

pytestmark = pytest.mark.django_db(transaction=True)


def test_positions_follow_the_fair_share_order_and_group_by_user(user, other_user):
    """Ada's 2nd job waits behind Bob's 1st; each user gets their own jobs' positions."""
    ada = [make_job(user) for _ in range(3)]
    bob = make_job(other_user)
    by_user = queue_broadcast.queue_positions_by_user()
    assert [(p["job_id"], p["queue_position"]) for p in by_user[user.pk]] == [
        (str(ada[0].id), 0), (str(ada[1].id), 2), (str(ada[2].id), 3)]
    assert by_user[other_user.pk] == [
        {"job_id": str(bob.id), "queue_position": 1, "eta_seconds": mock.ANY}]
    etas = [p["eta_seconds"] for p in by_user[user.pk]]
    assert etas == sorted(etas) and etas[0] > 0


def test_a_broadcast_costs_one_positions_query_and_one_message_per_user(user, other_user):
    """However long the line, the positions come from one query and go out once per user."""
    for _ in range(30):
        make_job(user)
    make_job(other_user)
    queue_broadcast.queue_positions_by_user()  # warm the render-time cache
    with mock.patch.object(queue_broadcast, "publish") as publish, \
            CaptureQueriesContext(connection) as queries:
        assert queue_broadcast.broadcast_queue_positions() == 2
    positions_queries = [q for q in queries.captured_queries if "jobs_job" in q["sql"]]
    assert len(positions_queries) == 1
    [messages] = publish.call_args.args  # one round trip for every user
    assert sorted((group, len(message["jobs"])) for group, message in messages) == sorted(
        [(f"user.{user.pk}", 30), (f"user.{other_user.pk}", 1)])


def test_a_user_far_back_in_line_is_told_every_few_passes(user, other_user, monkeypatch):
    """Places near the front go out every pass; farther back they move by a few a second and
    went out every pass too, most of a spike's socket frames."""
    third = User.objects.create_user("cy@example.com", "pw-for-cy-123")
    jobs = {who.pk: make_job(who) for who in (user, other_user, third)}  # places 0, 1, 2
    monkeypatch.setattr(queue_broadcast, "NEAR_FRONT", 2)
    line_moved_at = "2026-12-07T05:00:00+00:00"  # the earliest change since everyone was told
    dispatch_redis.client().set(queue_broadcast._key("changed-far"), line_moved_at)
    told, far = [], []
    with mock.patch.object(queue_broadcast, "publish") as publish:
        for _ in range(2 * queue_broadcast.FAR_EVERY):
            queue_broadcast.broadcast_queue_positions()
            [messages] = publish.call_args.args
            told.append({message["user_id"] for _, message in messages})
            far += [message for _, message in messages if message["user_id"] == third.pk]
    assert all({user.pk, other_user.pk} <= users for users in told)
    assert [message["jobs"] for message in far] == 2 * [[{
        "job_id": str(jobs[third.pk].id), "queue_position": 2, "eta_seconds": mock.ANY}]]
    assert far[0]["changed_at"] == line_moved_at  # not when the last pass ran


def test_a_pass_is_handed_to_the_task_workers_not_run_by_the_caller(user):
    """A pass reads the whole line: the web process or dispatcher whose change asked for it
    only queues the task (a worker runs it), and never runs it on one of its threads."""
    job = make_job(user)
    queue_broadcast.wait_for_trailing_broadcasts(timeout=30)
    dispatch_redis.client().delete(queue_broadcast._key("lock"))  # the creation's window
    broker = get_broker()
    queued_before = broker.queue_size()
    with mock.patch.object(queue_broadcast, "broadcast_queue_positions") as broadcast:
        job_transition(job_id=job.id, status="dispatching", source="test")
        queue_broadcast.wait_for_trailing_broadcasts(timeout=30)
    assert broadcast.call_count == 0
    assert broker.queue_size() == queued_before + 1
    task = SignedPackage.loads(broker.dequeue()[0][1])
    assert task["func"] == queue_broadcast.BROADCAST_TASK


def test_a_burst_of_changes_broadcasts_on_the_leading_and_trailing_edge_only(
        user, settings, broadcast_worker):
    """Twenty dispatches within the interval: one pass at once, one when the interval ends."""
    # Long enough for twenty transitions on a busy machine to fit in one window.
    settings.QUEUE_BROADCAST_INTERVAL = 4.0
    jobs = [make_job(user) for _ in range(20)]
    queue_broadcast.wait_for_trailing_broadcasts(timeout=30)
    dispatch_redis.client().delete(queue_broadcast._key("lock"))  # the creations' window
    with mock.patch.object(queue_broadcast, "broadcast_queue_positions",
                           wraps=queue_broadcast.broadcast_queue_positions) as broadcast:
        for job in jobs:
            job_transition(job_id=job.id, status="dispatching", source="test")
        # The leading pass runs in a worker: wait for it, not for a guess.
        deadline = time.monotonic() + 30
        while not broadcast.call_count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert broadcast.call_count == 1
        queue_broadcast.wait_for_trailing_broadcasts(timeout=30)
        assert broadcast.call_count == 2


def test_only_queue_changes_trigger_a_broadcast(user):
    """Progress of a running job does not move anyone in the line."""
    job = make_job(user)
    with mock.patch.object(queue_broadcast, "request_queue_broadcast") as request:
        job_transition(job_id=job.id, status="dispatching", source="test")
        job_transition(job_id=job.id, status="submitted", source="test")
        job_transition(job_id=job.id, status="rendering", progress=0.5, source="test")
    assert request.call_count == 1
