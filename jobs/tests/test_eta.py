"""Time estimates: measured per provider, a cold boot promised up front, never raised without a
new cause, and the first promise after dispatch kept on the job."""

from __future__ import annotations

from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.core.cache import cache

from accounts.models import User
from common.memo import forget_all
from jobs.dispatch import redis as dispatch_redis
from jobs.eta import (
    MEASURED_KEY,
    Cause,
    Timings,
    _promises_key,
    cause_of,
    job_promises,
    measured_seconds,
    note_provider_warm,
    promise,
)
from jobs.models import Job, JobStatus, Selfie
from jobs.services.jobs import job_enqueue
from jobs.services.transitions import job_transition

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=dt_timezone.utc)


def later(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


WARM, COLD_EXPECTED, BOOTING = Cause(0, False, False), Cause(0, True, False), Cause(0, True, True)


def test_a_promise_counts_down_and_never_goes_up_under_the_same_cause():
    """The queue estimate of 0:01 said 1 min, then 2 min at 0:40: a later, larger estimate is
    clamped to the finish already promised."""
    assert promise({"j": (WARM, 60)}, now=NOW) == {"j": 60}
    assert promise({"j": (WARM, 120)}, now=later(40)) == {"j": 20}
    assert promise({"j": (WARM, 5)}, now=later(45)) == {"j": 5}  # earlier news: lower at once
    assert promise({"j": (WARM, 60)}, now=later(80)) == {"j": 1}  # run out: stays at 1 s


def test_an_unexpected_boot_or_a_requeue_may_raise_the_promise():
    promise({"j": (WARM, 10)}, now=NOW)
    assert promise({"j": (BOOTING, 45)}, now=later(5)) == {"j": 45}
    assert promise({"j": (Cause(1, False, False), 70)}, now=later(6)) == {"j": 70}


def test_an_expected_boot_or_a_changed_guess_about_the_model_raises_nothing():
    """Promised with a boot, the boot coming is no news; a provider whose warm note lapsed
    while the job waited (now expected cold) is no news either."""
    promise({"j": (COLD_EXPECTED, 20)}, now=NOW)
    assert promise({"j": (BOOTING, 22)}, now=later(3)) == {"j": 17}
    promise({"k": (WARM, 10)}, now=NOW)
    assert promise({"k": (COLD_EXPECTED, 50)}, now=later(1)) == {"k": 9}


def test_the_cause_changes_on_a_requeue_or_a_boot():
    queued = cause_of(status=JobStatus.QUEUED, attempts=0, warming_at=None, dispatched_at=None)
    sent = cause_of(status=JobStatus.SUBMITTED, attempts=1, warming_at=None, dispatched_at=NOW)
    warming = cause_of(status=JobStatus.WARMING, attempts=1, warming_at=later(1),
                       dispatched_at=NOW)
    rendering = cause_of(status=JobStatus.RENDERING, attempts=1, warming_at=later(1),
                         dispatched_at=NOW)
    requeued = cause_of(status=JobStatus.QUEUED, attempts=1, warming_at=later(1),
                        dispatched_at=NOW)
    assert queued == sent == WARM and warming == rendering == BOOTING
    assert requeued == Cause(1, False, False)


def test_a_missing_estimate_is_no_promise():
    assert promise({"j": ("0", None)}, now=NOW) == {"j": None}


@pytest.fixture
def user(db):
    return User.objects.create_user("ada@example.com", "neon-Skyline-4821")


def finished_job(user, *, provider: str, render: float, boot: float | None = None) -> Job:
    """A succeeded job of `provider` whose render took `render` s after a `boot` s cold start."""
    selfie = Selfie.objects.create(user=user, image="s/a.jpg", thumbnail="s/a-t.jpg",
                                   width=512, height=640)
    start = NOW
    warming = start + timedelta(seconds=1) if boot is not None else None
    rendering = warming + timedelta(seconds=boot) if boot is not None else None
    finished = start + timedelta(seconds=render + (boot or 0))
    return Job.objects.create(user=user, selfie=selfie, style="cyberpunk-hero",
                              status=JobStatus.SUCCEEDED, provider=provider,
                              dispatched_at=start, warming_at=warming,
                              first_progress_at=rendering, finished_at=finished)


def test_renders_and_boots_are_measured_per_provider_and_a_boot_is_not_a_render(user):
    for _ in range(3):
        finished_job(user, provider="fast", render=6)
        finished_job(user, provider="slow", render=30)
    finished_job(user, provider="fast", render=6, boot=40)
    cache.delete(MEASURED_KEY)
    forget_all()
    measured = measured_seconds()
    assert measured["render"]["fast"] == 6 and measured["render"]["slow"] == 30
    assert measured["warmup"]["fast"] == 40 and "slow" not in measured["warmup"]
    timings = Timings()
    assert timings.render_for("fast") == 6 and timings.warmup_for("fast") == 40
    assert timings.warmup_for("slow") == 40  # not measured there: the measure over all


@pytest.fixture
def job(user):
    selfie = Selfie.objects.create(user=user, image="s/b.jpg", thumbnail="s/b-t.jpg",
                                   width=512, height=640)
    return job_enqueue(user=user, selfie=selfie, style="cyberpunk-hero")


def test_a_provider_that_rendered_recently_is_expected_warm(settings, db):
    settings.KEEP_WARM_IDLE = 60
    assert Timings().expect_cold("local")
    note_provider_warm("local")
    assert not Timings().expect_cold("local") and not Timings().expect_cold()


def test_the_first_estimate_after_dispatch_is_kept_on_the_job_once(job):
    job_transition(job_id=job.id, status="dispatching", source="test",
                   fields={"provider": "local", "attempts": 1})
    first = Job.objects.get(pk=job.id)
    assert first.eta_promised_at == first.dispatched_at and first.eta_promised_seconds > 0
    job_transition(job_id=job.id, status="queued", source="test", requeue=True)
    job_transition(job_id=job.id, status="dispatching", source="test",
                   fields={"provider": "local", "attempts": 2})
    again = Job.objects.get(pk=job.id)
    assert again.eta_promised_at == first.eta_promised_at
    assert again.dispatched_at > first.dispatched_at


def test_a_cold_job_walked_through_its_stages_is_never_promised_more(job):
    """From the line to the render, on a cold provider: each estimate clients get is at most
    the one before (the boot is promised from the start, so 'warming' raises nothing)."""
    seen = []
    for status, fields in [(None, None), ("dispatching", {"provider": "local", "attempts": 1}),
                           ("submitted", None), ("warming", None), ("rendering", None)]:
        if status:
            job_transition(job_id=job.id, status=status, source="test", fields=fields)
        fresh = Job.objects.get(pk=job.id)
        seen.append(job_promises([fresh], positions={str(job.id): 0} if not status else {},
                                 timings=Timings())[str(job.id)])
    assert seen == sorted(seen, reverse=True), seen
    assert seen[0] >= 40  # the boot, promised while still in line


def test_a_success_is_measured_at_once_not_after_the_cache_expires(
        user, job, django_capture_on_commit_callbacks):
    """`bench eta` found warm waves promised the defaults (60 s for 2 s renders): the medians
    were cached for 30 s after the cold wave that produced the first samples."""
    cache.delete(MEASURED_KEY)
    forget_all()
    assert "local" not in measured_seconds()["render"]
    for status in ("dispatching", "submitted", "rendering", "saving", "succeeded"):
        with django_capture_on_commit_callbacks(execute=True):  # the event hooks
            job_transition(job_id=job.id, status=status, source="test",
                           fields={"provider": "local", "attempts": 1}
                           if status == "dispatching" else None)
    forget_all()  # this process's 1 s memo; other processes' runs out by itself
    assert "local" in measured_seconds()["render"]


def test_a_finished_job_forgets_its_promise(job, django_capture_on_commit_callbacks):
    """Promises are fields of one hash that lives as long as the line keeps changing: a job
    that ends takes its own out."""
    job_id = str(job.id)
    promise({job_id: (WARM, 60)}, now=NOW)
    assert dispatch_redis.client().hexists(_promises_key(), job_id)
    with django_capture_on_commit_callbacks(execute=True):  # the event hooks
        job_transition(job_id=job.id, status="canceled", source="test")
    assert not dispatch_redis.client().hexists(_promises_key(), job_id)
    assert promise({job_id: (WARM, 90)}, now=later(30)) == {job_id: 90}  # no clamp left
