"""The one presenter: what a client sees of a job, for the API, the pages and the sockets.

Status, stage text, progress, place in line, ETA and URLs are built here and nowhere else, so a
poll, a page and a socket message never disagree (three ETA formulas once had drifted apart).
The ETA has one formula (jobs/eta.py), fed by measured times per provider (the median warm
render and cold boot of recent jobs) and the providers' slots, and clamped so a promise never
goes up without a new cause.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from datetime import timezone as dt_timezone
from typing import TypedDict

from django.urls import reverse
from django.utils import timezone

from jobs.eta import Timings, job_cause, job_eta_seconds, job_promises, promise
from jobs.events import JobEventMessage
from jobs.models import Job, JobEvent, JobStatus
from jobs.selectors import (
    cold_start_text,
    job_stage_text,
    job_video_url,
    providers_all_unavailable,
    queue_positions,
    selfie_thumbnail_url,
)


def job_page_path(job_id) -> str:
    """The studio page of a job (notifications link to it too)."""
    return reverse("job-detail", kwargs={"job_id": job_id})


def warm_up_urls() -> None:
    """Fill Django's URL tables now: it builds them on the first reverse(), which in a web
    process is the first submission's answer, and in the copier or the dispatcher comes with
    the first wave of finished renders (a notification's link), taking the process's GIL from
    a thread that may hold the database's write lock."""
    job_page_path(uuid.UUID(int=0))


def job_events_path(job_id) -> str:
    """The job's WebSocket (project/routing.py)."""
    return f"/ws/jobs/{job_id}/"


def iso(value: datetime | None) -> str | None:
    """A time as every client gets it: ISO 8601, UTC as `Z` (as DRF renders datetimes)."""
    if value is None:
        return None
    text = value.astimezone(dt_timezone.utc).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class JobState(TypedDict):
    job_id: str
    seq: int
    status: str
    stage: str  # what to show the user, e.g. "In line — position 3"
    progress: float
    queue_position: int | None  # jobs ahead of this one (0 = next); None unless queued
    eta_seconds: int | None
    provider: str | None
    style: str
    error: dict | None  # {code, message} once failed
    video_url: str | None  # signed; only once succeeded
    thumbnail_url: str | None
    page_url: str
    status_url: str
    events_url: str
    created_at: str
    updated_at: str
    finished_at: str | None


def _error(job: Job) -> dict | None:
    if job.status != JobStatus.FAILED:
        return None
    return {"code": job.error_code or "failed", "message": job.error_message}


def _stage(status: str, text: str, job: Job, timings: Timings) -> str:
    if status == JobStatus.WARMING:  # a cold boot: say so, with its measured length
        return cold_start_text(timings.warmup_for(job.provider or None))
    return text


def job_states(jobs: list[Job], *, origin: str | None = None,
               new: bool = False) -> list[JobState]:
    """What a client sees of each job. Places in line, provider availability and measured times
    are read once for all of them.

    `origin` ("https://host", from the request) makes the URLs absolute, as API clients need;
    without it they are paths, for the browser on our own origin. `new`: the jobs were created
    by this request (their ETAs are first promises).
    """
    positions = queue_positions(jobs=jobs)
    busy = providers_all_unavailable() if positions else False
    timings, now = Timings(), timezone.now()
    etas = job_promises(jobs, positions=positions, timings=timings, now=now, new=new)
    socket_origin = "ws" + origin[len("http"):] if origin else ""
    states = []
    for job in jobs:
        position = positions.get(str(job.id))
        states.append(JobState(
            job_id=str(job.id), seq=job.last_seq, status=job.status,
            stage=_stage(job.status, job_stage_text(job=job, position=position,
                                                    providers_unavailable=busy), job, timings),
            progress=round(job.progress, 4), queue_position=position,
            eta_seconds=etas[str(job.id)],
            provider=job.provider or None, style=job.style, error=_error(job),
            video_url=job_video_url(job), thumbnail_url=selfie_thumbnail_url(job.selfie),
            page_url=(origin or "") + job_page_path(job.id),
            status_url=(origin or "") + reverse("api-job-detail", kwargs={"job_id": job.id}),
            events_url=socket_origin + job_events_path(job.id),
            created_at=iso(job.created_at), updated_at=iso(job.updated_at),
            finished_at=iso(job.finished_at)))
    return states


def job_state(job: Job, *, origin: str | None = None) -> JobState:
    return job_states([job], origin=origin)[0]


def job_event_message(job: Job, event: JobEvent, *,
                      timings: Timings | None = None) -> JobEventMessage:
    """One timeline event as the sockets send it, with the ETA of its status and progress now.

    A queued job's place (and so its ETA) comes in the coalesced `queue.positions` message that
    follows. Only the job's latest event is given an estimate (the promise kept for the job);
    an older one, replayed after a reconnect, has none to give.
    """
    timings = timings or Timings()
    eta = None
    if event.seq >= job.last_seq:
        now = timezone.now()
        eta = promise({str(job.id): (
            job_cause(job, timings=timings, status=event.status),
            job_eta_seconds(job, timings=timings, status=event.status, progress=event.progress,
                            now=now))}, now=now)[str(job.id)]
    message: JobEventMessage = {
        "type": "job.event",
        "job_id": str(job.id),
        "user_id": job.user_id,
        "seq": event.seq,
        "status": event.status,
        "stage": _stage(event.status, event.stage, job, timings),
        "progress": round(event.progress, 4),
        "queue_position": None,
        "eta_seconds": eta,
        "at": iso(event.at),
    }
    if isinstance(event.detail, dict) and event.detail.get("reason"):
        message["reason"] = str(event.detail["reason"])
    if event.status == JobStatus.FAILED:
        message["error"] = _error(job)
    if event.status == JobStatus.SUCCEEDED and job.output_key:
        message["video_url"] = job_video_url(job)
    return message
