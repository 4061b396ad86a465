"""job_transition, the one state machine of a job: what it applies, what it ignores, what follows."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from jobs.models import STATUS_RANK, TERMINAL_STATUSES, Job, JobEvent, JobStatus
from jobs.presenter import job_event_message
from jobs.services.transitions import (
    TransitionResult,
    job_record_created,
    job_transition,
)
from jobs.stages import STAGE_TEXT

FORWARD = [JobStatus.QUEUED, JobStatus.DISPATCHING, JobStatus.SUBMITTED, JobStatus.WARMING,
           JobStatus.RENDERING, JobStatus.SAVING, JobStatus.SUCCEEDED]
HOOKED: list[tuple[str, int, str]] = []


def record_hook(*, job, event):
    HOOKED.append((str(job.id), event.seq, event.status))


def failing_hook(*, job, event):
    raise RuntimeError("this hook is broken")


def new_job(user, **fields) -> Job:
    job = Job.objects.create(user=user, style="cyberpunk-hero", last_seq=1, **fields)
    job_record_created(job, source="test")
    return job


def move(job, status, **kwargs):
    return job_transition(job_id=job.id, status=status, source="test", **kwargs)


def timeline(job) -> list[tuple[int, str]]:
    return list(JobEvent.objects.filter(job=job).values_list("seq", "status"))


@pytest.fixture
def job(user):
    return new_job(user)


def at(job, status, **kwargs) -> Job:
    """`job` moved straight to `status` (one forward transition)."""
    result = move(job, status, **kwargs)
    assert result.applied, f"could not set up a {status} job"
    return result.job


@pytest.fixture
def committed(settings, django_capture_on_commit_callbacks):
    """A block whose on-commit work runs at its end, as after a real commit, with only the
    recording hook installed."""
    HOOKED.clear()
    settings.JOB_EVENT_HOOKS = [f"{__name__}.record_hook"]
    yield lambda: django_capture_on_commit_callbacks(execute=True)
    HOOKED.clear()


@pytest.mark.django_db
class TestForward:
    def test_the_whole_happy_path_is_one_event_per_step(self, job):
        """Each forward step is applied once and appends the next event, seq without gaps."""
        for status in FORWARD[1:]:
            result = move(job, status)
            assert result.result is TransitionResult.APPLIED
            assert result.event.status == status and result.event.seq == result.job.last_seq
        assert timeline(job) == list(enumerate(FORWARD, start=1))

    def test_steps_may_be_skipped_forward(self, job):
        """A provider that reports rendering right away moves a queued job straight there."""
        result = move(job, JobStatus.RENDERING, progress=0.3)
        assert result.applied and result.job.status == JobStatus.RENDERING
        assert result.job.progress == pytest.approx(0.3)

    def test_the_stage_defaults_to_the_words_for_the_status(self, job):
        """Without a stage, the user reads the status's own words; a given stage wins."""
        assert move(job, JobStatus.DISPATCHING).job.stage == STAGE_TEXT[JobStatus.DISPATCHING]
        assert move(job, JobStatus.WARMING, stage="Booting GPU").job.stage == "Booting GPU"

    def test_timestamps_record_when_each_milestone_was_reached(self, job):
        """dispatched_at, accepted_at, first_progress_at and finished_at are set on arrival."""
        before = timezone.now()
        job = at(job, JobStatus.DISPATCHING)
        assert job.dispatched_at >= before and job.accepted_at is None
        job = at(job, JobStatus.SUBMITTED)
        assert job.accepted_at >= job.dispatched_at and job.first_progress_at is None
        job = at(job, JobStatus.RENDERING, progress=0.1)
        first_progress = job.first_progress_at
        assert first_progress is not None and job.finished_at is None
        job = at(job, JobStatus.RENDERING, progress=0.5)
        assert job.first_progress_at == first_progress
        job = at(job, JobStatus.SUCCEEDED)
        assert job.finished_at >= first_progress

    def test_success_means_full_progress(self, job):
        """A succeeded job shows 100 % whatever the provider last reported."""
        at(job, JobStatus.RENDERING, progress=0.4)
        assert move(job, JobStatus.SUCCEEDED).job.progress == 1.0

    def test_progress_never_goes_backwards_and_stays_within_bounds(self, job):
        """A later status with a smaller progress keeps the larger; more than 1 is 1."""
        at(job, JobStatus.RENDERING, progress=0.7)
        assert move(job, JobStatus.SAVING, progress=0.2).job.progress == pytest.approx(0.7)
        assert move(job, JobStatus.SAVING, progress=1.5).job.progress == 1.0

    def test_fields_are_saved_with_the_status(self, job):
        """Fields given with a transition land in the same write as the status."""
        move(job, JobStatus.FAILED, fields={"error_code": "nsfw", "error_message": "Refused"})
        job.refresh_from_db()
        assert (job.status, job.error_code, job.error_message) == ("failed", "nsfw", "Refused")

    def test_terminal_states_end_the_lease(self, job):
        """A finished job is owned by no worker."""
        at(job, JobStatus.DISPATCHING,
           fields={"lease_until": timezone.now() + timedelta(minutes=1)})
        assert move(job, JobStatus.CANCELED).job.lease_until is None

    def test_detail_and_source_are_kept_on_the_event(self, job):
        """The event records who caused it and why."""
        result = job_transition(job_id=job.id, status=JobStatus.DISPATCHING, source="dispatcher",
                                detail={"reason": "slot_free"})
        event = JobEvent.objects.get(pk=result.event.pk)
        assert (event.source, event.detail) == ("dispatcher", {"reason": "slot_free"})


@pytest.mark.django_db
class TestIgnored:
    @pytest.mark.parametrize("terminal", sorted(TERMINAL_STATUSES))
    @pytest.mark.parametrize("status", list(JobStatus))
    def test_nothing_follows_a_terminal_state(self, job, terminal, status):
        """After succeeded, failed or canceled every request is ignored, even a requeue."""
        at(job, terminal)
        before = Job.objects.get(pk=job.pk)
        result = move(job, status, progress=1.0, stage="late news")
        assert result.result is TransitionResult.IGNORED and result.event is None
        if status == JobStatus.QUEUED:
            assert not move(job, status, requeue=True).applied
        after = Job.objects.get(pk=job.pk)
        assert (after.status, after.last_seq, after.stage) == (terminal, before.last_seq,
                                                              before.stage)
        assert len(timeline(job)) == 2

    @pytest.mark.parametrize("later, earlier", [
        (JobStatus.RENDERING, JobStatus.SUBMITTED),
        (JobStatus.SAVING, JobStatus.RENDERING),
        (JobStatus.SUBMITTED, JobStatus.DISPATCHING),
        (JobStatus.DISPATCHING, JobStatus.QUEUED),
    ])
    def test_a_late_event_cannot_move_a_job_back(self, job, later, earlier):
        """An event that arrives after a later one (reordered webhooks, a slow poll) is ignored."""
        assert STATUS_RANK[earlier] < STATUS_RANK[later]
        at(job, later)
        result = move(job, earlier)
        assert not result.applied and result.job.status == later
        assert Job.objects.get(pk=job.pk).status == later

    def test_a_duplicate_event_is_applied_once(self, job):
        """The same status with the same progress again (a retried webhook) changes nothing."""
        at(job, JobStatus.RENDERING, progress=0.5)
        seq = Job.objects.get(pk=job.pk).last_seq
        assert not move(job, JobStatus.RENDERING, progress=0.5).applied
        assert not move(job, JobStatus.RENDERING).applied
        assert Job.objects.get(pk=job.pk).last_seq == seq

    def test_older_progress_for_the_same_status_is_ignored(self, job):
        """Progress 0.4 after 0.6 (reordered) is stale; 0.8 is news."""
        at(job, JobStatus.RENDERING, progress=0.6)
        assert not move(job, JobStatus.RENDERING, progress=0.4).applied
        result = move(job, JobStatus.RENDERING, progress=0.8)
        assert result.applied and result.job.progress == pytest.approx(0.8)

    def test_a_new_stage_is_news_within_a_status(self, job):
        """The same status with a new stage text is applied: the user sees what changed."""
        at(job, JobStatus.WARMING, stage="Loading weights")
        assert move(job, JobStatus.WARMING, stage="Compiling").applied
        assert not move(job, JobStatus.WARMING, stage="Compiling").applied

    def test_news_about_a_submission_the_job_left_is_ignored(self, job):
        """An event naming another provider_job_id (before a failover or retry) is ignored."""
        at(job, JobStatus.SUBMITTED, fields={"provider": "replicate", "provider_job_id": "new"})
        assert not move(job, JobStatus.RENDERING, provider_job_id="old").applied
        assert move(job, JobStatus.RENDERING, provider_job_id="new").applied

    def test_a_fenced_transition_needs_the_expected_fields(self, job):
        """`expect` ignores a step for a submission that has been superseded meanwhile."""
        at(job, JobStatus.DISPATCHING, fields={"attempts": 2})
        assert not move(job, JobStatus.SUBMITTED, expect={"attempts": 1}).applied
        assert move(job, JobStatus.SUBMITTED, expect={"attempts": 2}).applied


@pytest.mark.django_db
class TestRequeue:
    def test_requeue_returns_an_active_job_to_the_line(self, job):
        """The engine's one way back: queued again, progress reset, the lease as given."""
        at(job, JobStatus.RENDERING, progress=0.6,
           fields={"lease_until": timezone.now() + timedelta(minutes=1)})
        result = move(job, JobStatus.QUEUED, requeue=True, detail={"reason": "rate_limited"})
        assert result.applied
        assert (result.job.status, result.job.progress, result.job.lease_until) == (
            JobStatus.QUEUED, 0.0, None)
        assert result.job.stage == STAGE_TEXT[JobStatus.QUEUED]

    def test_without_requeue_queued_is_a_regression(self, job):
        """Only the engine's explicit requeue may move a job back to queued."""
        at(job, JobStatus.DISPATCHING)
        assert not move(job, JobStatus.QUEUED).applied

    def test_a_requeued_job_is_dispatched_afresh(self, job):
        """Dispatching again after a requeue records the new dispatch time."""
        first = at(job, JobStatus.DISPATCHING).dispatched_at
        at(job, JobStatus.QUEUED, requeue=True)
        again = at(job, JobStatus.DISPATCHING).dispatched_at
        assert again > first

    def test_requeue_can_only_mean_queued(self, job):
        """requeue=True with another status is a programming error, said at once."""
        with pytest.raises(ValueError, match="requeue"):
            move(job, JobStatus.RENDERING, requeue=True)


@pytest.mark.django_db
class TestMisuse:
    def test_unknown_fields_are_refused(self, job):
        """A transition may set only the fields it names; a typo fails loudly, nothing saved."""
        with pytest.raises(ValueError, match="stauts"):
            move(job, JobStatus.DISPATCHING, fields={"stauts": "x"})
        assert Job.objects.get(pk=job.pk).status == JobStatus.QUEUED

    def test_status_must_be_one_of_the_machine(self, job):
        """A status the machine does not know is refused."""
        with pytest.raises(ValueError):
            move(job, "exploded")

    def test_a_missing_job_is_an_error(self, db):
        with pytest.raises(Job.DoesNotExist):
            job_transition(job_id="00000000-0000-0000-0000-000000000000", status="failed",
                           source="test")


@pytest.mark.django_db
class TestAfterCommit:
    def test_hooks_run_once_per_applied_transition(self, job, committed):
        """Each applied step runs every hook once with its event; ignored ones run none."""
        with committed():
            move(job, JobStatus.DISPATCHING)
            move(job, JobStatus.DISPATCHING)  # duplicate: ignored
            move(job, JobStatus.SUBMITTED)
            move(job, JobStatus.QUEUED)  # regression: ignored
            assert HOOKED == []  # nothing before the commit
        assert HOOKED == [(str(job.id), 2, "dispatching"), (str(job.id), 3, "submitted")]

    def test_a_failing_hook_neither_blocks_the_others_nor_the_job(self, job, committed,
                                                                   settings):
        """An email or push hook that raises is logged; the next hook still runs."""
        settings.JOB_EVENT_HOOKS = [f"{__name__}.failing_hook", f"{__name__}.record_hook"]
        with committed():
            assert move(job, JobStatus.FAILED).applied
        assert HOOKED == [(str(job.id), 2, "failed")]
        assert Job.objects.get(pk=job.pk).status == JobStatus.FAILED

    def test_a_rolled_back_transition_announces_nothing(self, job, committed):
        """A transition inside a transaction that rolls back leaves neither a row nor a hook."""
        with committed(), pytest.raises(RuntimeError):
            with transaction.atomic():
                move(job, JobStatus.DISPATCHING)
                raise RuntimeError("the caller failed")
        assert HOOKED == []
        assert Job.objects.get(pk=job.pk).status == JobStatus.QUEUED
        assert timeline(job) == [(1, "queued")]


@pytest.mark.django_db
class TestEventMessage:
    def test_a_failure_carries_its_error_and_reason(self, job):
        """What a socket client gets of a failure: the error and why."""
        result = move(job, JobStatus.FAILED, detail={"reason": "provider_down"},
                      fields={"error_code": "provider_down", "error_message": "All down"})
        message = job_event_message(result.job, result.event)
        assert message["error"] == {"code": "provider_down", "message": "All down"}
        assert message["reason"] == "provider_down" and "video_url" not in message
        assert (message["seq"], message["status"], message["job_id"]) == (2, "failed",
                                                                        str(job.id))

    def test_a_success_carries_a_link_to_the_video(self, job):
        result = move(job, JobStatus.SUCCEEDED, fields={"output_key": "videos/x.mp4"})
        message = job_event_message(result.job, result.event)
        assert "videos/x.mp4" in message["video_url"] and "error" not in message


@pytest.mark.django_db(transaction=True)
def test_concurrent_duplicates_apply_once(user):
    """The same webhook delivered on four threads at once is applied exactly once."""
    job = new_job(user)
    at(job, JobStatus.SUBMITTED)
    start = threading.Barrier(4)
    results: list[TransitionResult] = []

    def deliver():
        try:
            start.wait(timeout=10)
            results.append(move(job, JobStatus.RENDERING, progress=0.5).result)
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(result.value for result in results) == ["applied"] + ["ignored"] * 3
    assert timeline(job) == [(1, "queued"), (2, "submitted"), (3, "rendering")]
