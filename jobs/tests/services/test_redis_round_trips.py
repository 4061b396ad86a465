"""What a committed job change tells Redis (the event's PUBLISH, the dispatcher's wake-up, the
counters, the queue broadcast, a freed slot) goes in one round trip: under a spike each round
trip is also a wait for the GIL."""

from __future__ import annotations

import logging
import threading

import pytest
import redis

from jobs.dispatch import line_rank, slots
from jobs.dispatch import redis as dispatch_redis
from jobs.dispatch.wakeup import WAKE_LIST
from jobs.models import JobStatus
from jobs.presenter import job_states
from jobs.services.jobs import job_create
from jobs.services.transitions import job_transition

pytestmark = pytest.mark.django_db(transaction=True)  # on-commit hooks run at real commits


HANDSHAKE = (b"HELLO", b"CLIENT", b"PING", b"SELECT", b"AUTH")


@pytest.fixture
def round_trips(monkeypatch):
    """What this thread sends to Redis (the queue broadcast's own thread is not the caller's
    wait), less a new connection's handshake."""
    sent = []
    original = redis.connection.Connection.send_packed_command
    caller = threading.current_thread()

    def counting(connection, command, *args, **kwargs):
        packed = b"".join(command) if isinstance(command, list) else command
        if threading.current_thread() is caller and not any(
                f"\r\n{word.decode()}\r\n".encode() in packed[:40] for word in HANDSHAKE):
            sent.append(packed)
        return original(connection, command, *args, **kwargs)
    monkeypatch.setattr(redis.connection.Connection, "send_packed_command", counting)
    return sent


def carrying(round_trips, commands) -> list[bytes]:
    """The round trips that carry any of these commands (the ETA's promises hash, read and
    written for the clamp, goes on its own)."""
    return [sent for sent in round_trips if any(f"\r\n{command}\r\n".encode() in sent
                                                for command in commands)]


def test_a_submissions_place_in_line_comes_back_in_its_commits_round_trip(
        user, selfie, round_trips):
    job_create(user=user, selfie_id=selfie.id, style="cyberpunk-hero")
    line_rank.resync()  # seeded, as the dispatcher's first pass leaves it
    round_trips.clear()
    job, _ = job_create(user=user, selfie_id=selfie.id, style="cyberpunk-hero")
    assert job_states([job])[0]["queue_position"] == 1
    [sent] = carrying(round_trips, ("ZLEXCOUNT",))
    assert b"\r\nZADD\r\n" in sent and b"\r\nPUBLISH\r\n" in sent


def test_a_202_reads_no_earlier_promise_and_a_replay_does(api, selfie, round_trips):
    """A new job was promised nothing yet: its 202 makes two round trips (the commit's, the
    ETA promise's write), not three; a replayed key's 202 keeps the promise its first gave."""
    url, body = "/api/v1/jobs/", {"selfie_id": str(selfie.id), "style": "cyberpunk-hero"}
    api.post(url, body, format="json")
    line_rank.resync()
    round_trips.clear()
    first = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert first.status_code == 202 and first.json()["eta_seconds"] is not None
    assert not carrying(round_trips, ("HMGET",)) and len(round_trips) == 2
    assert carrying(round_trips, ("HSET",))
    round_trips.clear()
    replay = api.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    assert replay["Idempotent-Replayed"] == "true"
    assert carrying(round_trips, ("HMGET",))
    assert replay.json()["eta_seconds"] <= first.json()["eta_seconds"]


@pytest.mark.parametrize("key", [None, "idempotent-1"])
def test_a_submission_tells_redis_everything_in_one_round_trip(user, selfie, round_trips, key):
    job_create(user=user, selfie_id=selfie.id, style="cyberpunk-hero")  # connected, timings read
    round_trips.clear()
    job_create(user=user, selfie_id=selfie.id, style="cyberpunk-hero", idempotency_key=key)
    hooks = ("PUBLISH", "HINCRBY", "EVAL")
    [sent] = carrying(round_trips, hooks)
    for command in hooks:
        assert f"\r\n{command}\r\n".encode() in sent
    assert dispatch_redis.key(WAKE_LIST).encode() in sent  # the wake-up, unless slots are full


def test_a_render_done_frees_the_slot_before_the_wake_up_in_one_round_trip(
        user, selfie, round_trips):
    job, _ = job_create(user=user, selfie_id=selfie.id, style="cyberpunk-hero")
    job_transition(job_id=job.id, status=JobStatus.DISPATCHING, source="test",
                   fields={"provider": "local"})
    assert slots.acquire(provider="local", job_id=job.id, limit=5)
    round_trips.clear()
    job_transition(job_id=job.id, status=JobStatus.SAVING, source="test")
    [sent] = carrying(round_trips, ("PUBLISH", "ZREM", "LPUSH"))
    assert b"PUBLISH" in sent and sent.index(b"ZREM") < sent.index(b"LPUSH")
    assert slots.in_use(provider="local") == 0


def test_a_redis_outage_is_logged_not_raised(user, selfie, settings, caplog):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there: connection refused
    with caplog.at_level(logging.WARNING, logger=dispatch_redis.__name__):
        job, _ = job_create(user=user, selfie_id=selfie.id, style="cyberpunk-hero")
    assert job.status == JobStatus.QUEUED
    assert "could not send to Redis" in caplog.text and "wake-up" in caplog.text
