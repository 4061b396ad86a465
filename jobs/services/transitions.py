"""The one state machine of a job: every status change, from every path, goes through here."""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from jobs.dispatch import line_rank
from jobs.dispatch import redis as dispatch_redis
from jobs.eta import Timings, job_eta_seconds
from jobs.events import send_job_event
from jobs.logs import job_log_context
from jobs.models import STATUS_RANK, TERMINAL_STATUSES, Job, JobEvent, JobStatus
from jobs.presenter import job_event_message
from jobs.stages import STAGE_TEXT

logger = logging.getLogger(__name__)

# Fields a transition may set besides status/stage/progress; anything else is a programming error.
TRANSITION_FIELDS = frozenset({
    "provider", "provider_job_id", "attempts", "error_code", "error_message", "output_key",
    "poster_key",
    "output_url", "line_key", "not_before", "lease_until", "last_provider_news_at",
    "poll_count", "cancel_requested", "avoid_provider",
})


class TransitionResult(enum.Enum):
    APPLIED = "applied"
    IGNORED = "ignored"


@dataclass(frozen=True)
class Transition:
    result: TransitionResult
    job: Job
    event: JobEvent | None = None

    @property
    def applied(self) -> bool:
        return self.result is TransitionResult.APPLIED


def job_transition(*, job_id, status: str, source: str, stage: str | None = None,
                   progress: float | None = None, detail: dict | None = None,
                   provider_job_id: str | None = None, requeue: bool = False,
                   expect: dict[str, Any] | None = None,
                   fields: dict[str, Any] | None = None) -> Transition:
    """Move a job to `status`, or ignore the request when it would break the state machine.

    Ignored (not an error): anything after a terminal state; a regression (a late or reordered
    provider event); an event for a provider submission the job no longer has
    (`provider_job_id` mismatch); the same status without news; a job whose fields differ from
    `expect` (a fencing check, e.g. {"attempts": 3} for a submission that may have been
    superseded). `requeue=True` is the engine's one way back: a job returns to `queued` (429,
    failover, lost worker).
    """
    status = JobStatus(status)
    fields = dict(fields or {})
    unknown = set(fields) - TRANSITION_FIELDS
    if unknown:
        raise ValueError(f"job_transition cannot set {sorted(unknown)}")
    if requeue and status != JobStatus.QUEUED:
        raise ValueError("requeue only returns a job to 'queued'")

    # One Redis round trip for what the commit tells the sockets and the engine (unless an
    # outer transaction commits later: then _after_commit still sends each event's in one).
    with dispatch_redis.one_round_trip(), transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job_id)
        if expect and any(getattr(job, name) != value for name, value in expect.items()):
            return Transition(TransitionResult.IGNORED, job)
        if not _allowed(job, status=status, progress=progress, stage=stage, requeue=requeue,
                        provider_job_id=provider_job_id):
            return Transition(TransitionResult.IGNORED, job)
        now = timezone.now()
        left_line = job.line_key if job.status == JobStatus.QUEUED else None
        _apply(job, status=status, stage=stage, progress=progress, requeue=requeue,
               fields=fields, now=now)
        job.last_seq += 1
        job.save()
        event = JobEvent.objects.create(job=job, seq=job.last_seq, status=job.status,
                                        stage=job.stage, progress=job.progress,
                                        detail=detail or {}, source=source)
        transaction.on_commit(lambda: _after_commit(job, event, left_line=left_line))
    return Transition(TransitionResult.APPLIED, job, event)


def job_record_created(job: Job, *, source: str) -> JobEvent:
    """The first event of a new job (created with last_seq=1, queued); call inside the creating
    transaction."""
    [event] = jobs_record_created([(job, source)])
    transaction.on_commit(lambda: job_created_committed(job, event))
    return event


def jobs_record_created(created: Sequence[tuple[Job, str]]) -> list[JobEvent]:
    """The first events of new jobs, (job, source) each, in one insert. Inside the creating
    transaction; once it has committed, call job_created_committed for each."""
    return JobEvent.objects.bulk_create([
        JobEvent(job=job, seq=1, status=job.status, stage=job.stage, progress=job.progress,
                 source=source) for job, source in created])


def job_created_committed(job: Job, event: JobEvent) -> None:
    """What a new job's commit tells the line's index, the sockets and the hooks."""
    _after_commit(job, event, left_line=None)


def _allowed(job: Job, *, status, progress, stage, requeue, provider_job_id) -> bool:
    if job.status in TERMINAL_STATUSES:
        return False
    if provider_job_id is not None and provider_job_id != job.provider_job_id:
        return False  # news about a submission this job has since left (failover, retry)
    if requeue:
        return True
    old_rank, new_rank = STATUS_RANK[job.status], STATUS_RANK[status]
    if new_rank < old_rank:
        return False
    if new_rank == old_rank:  # same status: only news (more progress, a new stage) counts
        more_progress = progress is not None and progress > job.progress + 1e-9
        new_stage = stage is not None and stage != job.stage
        return more_progress or new_stage
    return True


def _apply(job: Job, *, status, stage, progress, requeue, fields, now) -> None:
    previous = job.status
    job.status = status
    job.stage = stage or STAGE_TEXT[status]
    for name, value in fields.items():
        setattr(job, name, value)
    if requeue:
        job.progress = 0.0
        job.lease_until = fields.get("lease_until")
    elif status == JobStatus.SUCCEEDED:
        job.progress = 1.0
    elif progress is not None:
        job.progress = min(1.0, max(job.progress, float(progress)))

    if status == JobStatus.DISPATCHING and previous != status:
        job.dispatched_at = now
        if job.eta_promised_at is None:  # kept to compare with the real finish (bench eta)
            job.eta_promised_at = now
            job.eta_promised_seconds = job_eta_seconds(job, timings=Timings(), now=now)
    if status == JobStatus.WARMING and previous != status:
        job.warming_at = now
    if status == JobStatus.SUBMITTED and previous != status:
        job.accepted_at = now
    if status == JobStatus.RENDERING and job.first_progress_at is None:
        job.first_progress_at = now
    if status in TERMINAL_STATUSES:
        job.finished_at = now
        job.lease_until = None


def _after_commit(job: Job, event: JobEvent, *, left_line: int | None) -> None:
    # The hooks' lines (email, push, dispatch) are about this job; their Redis commands go in
    # one round trip, with the line's index (`left_line`: its key if it was queued before).
    with job_log_context(job), dispatch_redis.one_round_trip():
        line_rank.record_move(job=job, left=left_line,
                              joined=job.line_key if job.status == JobStatus.QUEUED else None)
        _run_after_commit(job, event)


def _run_after_commit(job: Job, event: JobEvent) -> None:
    try:
        message = job_event_message(job, event)
    except Exception:  # e.g. Redis down for the measured times: the hooks must still run
        logger.warning("could not build event %s#%s", job.id, event.seq, exc_info=True)
    else:
        send_job_event(message)
    for path in settings.JOB_EVENT_HOOKS:
        try:
            import_string(path)(job=job, event=event)
        except Exception:  # a failing hook (email, push) must never undo or block a job
            logger.exception("job event hook %s failed for %s#%s", path, job.id, event.seq)
