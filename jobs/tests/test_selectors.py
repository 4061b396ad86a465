"""The read side the API and the admin compose: stage text, provider availability, timings."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from jobs.line import ROUND_SHIFT
from jobs.models import BreakerState, Job, JobEvent, JobStatus, ProviderState, Selfie
from jobs.selectors import (
    job_stage_text,
    job_timeline,
    jobs_with_timings,
    providers_all_unavailable,
    submit_inputs_many,
)
from jobs.stages import PROVIDERS_BUSY

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_providers(settings):
    settings.PROVIDERS = {"a": {}, "b": {}}


def test_providers_without_state_rows_are_available(two_providers):
    assert providers_all_unavailable() is False


def test_all_unavailable_when_each_is_disabled_paused_or_open(two_providers):
    ProviderState.objects.create(name="a", enabled=False)
    state = ProviderState.objects.create(name="b",
                                         paused_until=timezone.now() + timedelta(minutes=1))
    assert providers_all_unavailable() is True
    state.paused_until = timezone.now() - timedelta(seconds=1)
    state.save()
    providers_all_unavailable.forget()  # it is remembered for a second
    assert providers_all_unavailable() is False
    state.breaker_state = BreakerState.OPEN
    state.save()
    providers_all_unavailable.forget()
    assert providers_all_unavailable() is True


def test_stage_text_for_a_queued_job(two_providers):
    job = Job(status=JobStatus.QUEUED, stage="In line")
    assert job_stage_text(job=job, position=0) == "In line — position 1"
    assert job_stage_text(job=job, position=4, providers_unavailable=True) == PROVIDERS_BUSY
    rendering = Job(status=JobStatus.RENDERING, stage="Rendering")
    assert job_stage_text(job=rendering, position=None) == "Rendering"


def _job_with_events(user, *steps: tuple[str, float], **fields) -> Job:
    start = timezone.now() - timedelta(hours=1)
    job = Job.objects.create(user=user, style="cyberpunk-hero", last_seq=len(steps),
                             status=steps[-1][0], **fields)
    Job.objects.filter(pk=job.pk).update(created_at=start)
    for seq, (status, seconds) in enumerate(steps, start=1):
        event = JobEvent.objects.create(job=job, seq=seq, status=status, source="test")
        JobEvent.objects.filter(pk=event.pk).update(at=start + timedelta(seconds=seconds))
    job.refresh_from_db()
    return job


def test_a_requeued_job_sums_its_time_per_status_and_queues_until_its_first_dispatch(user):
    job = _job_with_events(user, (JobStatus.QUEUED, 0), (JobStatus.DISPATCHING, 1),
                           (JobStatus.QUEUED, 2), (JobStatus.DISPATCHING, 5),
                           (JobStatus.FAILED, 6))
    entries, per_status = job_timeline(job=job)
    assert [entry.duration for entry in entries] == [
        timedelta(seconds=1), timedelta(seconds=1), timedelta(seconds=3), timedelta(seconds=1),
        None]
    assert per_status == {JobStatus.QUEUED: timedelta(seconds=4),
                          JobStatus.DISPATCHING: timedelta(seconds=2)}
    assert jobs_with_timings(Job.objects.filter(pk=job.pk)).get().queue_time == timedelta(
        seconds=1)


def test_the_last_event_of_a_live_job_lasts_until_now(user):
    job = _job_with_events(user, (JobStatus.QUEUED, 0))
    [entry], per_status = job_timeline(job=job, now=job.created_at + timedelta(seconds=30))
    assert entry.ongoing and entry.duration == timedelta(seconds=30)
    timed = jobs_with_timings(Job.objects.filter(pk=job.pk)).get()
    assert (timed.queue_time, timed.first_progress_time, timed.total_time) == (None, None, None)


def test_the_inputs_of_many_submissions_are_read_in_one_query(django_assert_num_queries):
    """submit_inputs_many (the intake's batches): a selfie counts only for its owner; a
    malformed id is no selfie."""
    owner = User.objects.create_user("owner@example.com", "x-Strong-Pass-99")
    stranger = User.objects.create_user("stranger@example.com", "x-Strong-Pass-99")
    selfie = Selfie.objects.create(user=owner, image="a.jpg", thumbnail="a-t.jpg", width=1,
                                   height=1)
    Job.objects.create(user=owner, selfie=selfie, style="cyberpunk-hero",
                       status=JobStatus.QUEUED, line_key=(3 << ROUND_SHIFT) + 5)
    with django_assert_num_queries(1):
        found = submit_inputs_many([(owner, selfie.id), (stranger, selfie.id), (owner, "42"),
                                    (owner, str(selfie.id))])
    mine, theirs, malformed, again = found
    assert theirs is None and malformed is None
    assert mine.selfie == selfie and again.selfie == selfie
    assert (mine.active_jobs, mine.users_last_round, mine.serving_round) == (1, 3, 3)
