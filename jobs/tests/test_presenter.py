"""The one presenter: one ETA formula, and one job state for every client."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.core.cache import cache

from accounts.models import User
from jobs.eta import DEFAULT_WARMUP_SECONDS, MEASURED_KEY, Timings, eta_seconds
from jobs.models import Job, JobStatus, Selfie
from jobs.presenter import iso, job_event_message, job_state, job_states
from jobs.services.jobs import job_enqueue
from jobs.services.transitions import job_transition

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=dt_timezone.utc)


class FakeTimings:
    """Measured times as a test sets them: 60 s renders, 30 s boots, five slots, warm."""

    def __init__(self, *, render=60.0, warmup=30.0, slots=5, cold=False):
        self.render, self.warmup, self.slots, self.cold = render, warmup, slots, cold

    def render_for(self, provider=None):
        return self.render

    def warmup_for(self, provider=None):
        return self.warmup

    def expect_cold(self, provider=None):
        return self.cold


TIMINGS = FakeTimings()


def eta(status, *, progress=0.0, position=None, elapsed=0.0, timings=TIMINGS, warming=None,
        rendering=None):
    dispatched = NOW - timedelta(seconds=elapsed)
    return eta_seconds(status=status, progress=progress, position=position, timings=timings,
                       dispatched_at=dispatched,
                       warming_at=None if warming is None else dispatched + timedelta(seconds=warming),
                       rendering_at=None if rendering is None else dispatched + timedelta(
                           seconds=rendering), now=NOW)


def test_a_queued_job_waits_for_the_renders_ahead_shared_by_the_slots():
    """Five slots, 60 s renders: each place ahead adds 12 s to its own 60 s render."""
    assert [eta(JobStatus.QUEUED, position=p) for p in (0, 1, 5, 10)] == [60, 72, 120, 180]


def test_a_queued_job_expects_a_boot_when_no_provider_is_warm():
    assert eta(JobStatus.QUEUED, position=0, timings=FakeTimings(cold=True)) == 30 + 60


def test_a_queued_job_without_a_known_place_has_no_eta():
    """A job event leaves the place, and so the ETA, to the queue.positions message."""
    assert eta(JobStatus.QUEUED) is None


def test_a_warming_job_is_promised_what_is_left_of_a_boot_and_a_render():
    assert eta(JobStatus.WARMING, elapsed=12, warming=2) == 30 - 10 + 60
    assert eta(JobStatus.WARMING, elapsed=500, warming=2) == 60  # a long boot: still a render


def test_a_sent_job_expects_a_boot_only_when_its_provider_is_cold():
    assert eta(JobStatus.SUBMITTED, elapsed=20) == 40
    assert eta(JobStatus.SUBMITTED, elapsed=20, timings=FakeTimings(cold=True)) == 70


def test_a_rendering_job_counts_down_by_progress_once_reported_else_by_time():
    assert eta(JobStatus.RENDERING, progress=0.25, elapsed=40) == 45
    assert eta(JobStatus.SAVING, progress=0.99) == 1
    # A cold job's boot is not part of its render: 50 s since dispatch, 40 of them booting.
    assert eta(JobStatus.RENDERING, elapsed=50, warming=2, rendering=42) == 50


@pytest.mark.parametrize("status", [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED])
def test_a_finished_job_has_no_eta(status):
    assert eta(status, position=0) is None


def test_times_are_utc_with_a_z_as_drf_renders_them():
    assert iso(NOW) == "2026-12-01T12:00:00Z"
    assert iso(None) is None


@pytest.fixture
def job(db):
    user = User.objects.create_user("ada@example.com", "neon-Skyline-4821")
    selfie = Selfie.objects.create(user=user, image="selfies/a.jpg", thumbnail="selfies/a-t.jpg",
                                   width=512, height=640)
    return job_enqueue(user=user, selfie=selfie, style="cyberpunk-hero")


def test_the_state_names_the_place_in_line_and_the_urls(job):
    state = job_state(job)
    assert state["queue_position"] == 0 and state["stage"] == "In line — position 1"
    assert state["page_url"] == f"/app/jobs/{job.id}/"
    assert state["status_url"] == f"/api/v1/jobs/{job.id}/"
    assert state["events_url"] == f"/ws/jobs/{job.id}/"
    absolute = job_states([job], origin="https://surge.example")[0]
    assert absolute["page_url"] == f"https://surge.example/app/jobs/{job.id}/"
    assert absolute["events_url"] == f"wss://surge.example/ws/jobs/{job.id}/"


def test_a_failed_job_always_has_an_error_code(job):
    for status in ("dispatching", "failed"):
        job_transition(job_id=job.id, status=status, source="test",
                       fields={"error_message": "GPU melted"} if status == "failed" else None)
    job = Job.objects.get(pk=job.id)
    assert job_state(job)["error"] == {"code": "failed", "message": "GPU melted"}
    assert job_event_message(job, job.events.get(seq=3))["error"] == job_state(job)["error"]


def test_a_warming_event_has_the_etas_of_the_state(job):
    """The socket's event and the job's state are built from the same formula and times."""
    cache.delete(MEASURED_KEY)
    for status in ("dispatching", "submitted", "warming"):
        job_transition(job_id=job.id, status=status, source="test")
    job = Job.objects.get(pk=job.id)
    event = job_event_message(job, job.events.get(seq=4))
    assert event["eta_seconds"] >= DEFAULT_WARMUP_SECONDS == Timings().warmup_for("local")
    assert abs(event["eta_seconds"] - job_state(job)["eta_seconds"]) <= 1  # a second may pass
    assert event["stage"] == job_state(job)["stage"] == (
        "Starting the renderer (first video takes about 40 s)")
