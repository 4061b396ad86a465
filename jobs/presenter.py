"""The one presenter: what a client sees of a job, for the API, the pages and the sockets.

Status, stage text, progress, place in line, ETA and URLs are built here and nowhere else, so a
poll, a page and a socket message never disagree (three ETA formulas once had drifted apart).
The ETA has one formula, fed by measured times: the median render and cold start of recent jobs,
and the providers' slots.
"""

from __future__ import annotations

import math
from datetime import datetime
from datetime import timezone as dt_timezone
from functools import cached_property
from statistics import median
from typing import TypedDict

from django.core.cache import cache
from django.db.models import Min
from django.urls import reverse
from django.utils import timezone

from common.memo import memoize_for
from jobs.events import JobEventMessage
from jobs.models import TERMINAL_STATUSES, Job, JobEvent, JobStatus
from jobs.selectors import (
    job_stage_text,
    job_video_url,
    providers_all_unavailable,
    queue_positions,
    selfie_thumbnail_url,
    total_provider_slots,
)

DEFAULT_RENDER_SECONDS = 60.0
RECENT_RENDERS = 50
DEFAULT_WARMUP_SECONDS = 30.0  # a typical cold start of a hosted model, until we have measured one
RECENT_WARMUPS = 20


@memoize_for(5.0)
def recent_render_seconds() -> float:
    """Median wall time of recent successful renders (dispatch → done); cached briefly."""
    cached = cache.get("jobs:recent-render-seconds")
    if cached is not None:
        return cached
    durations = [
        (finished - dispatched).total_seconds()
        for dispatched, finished in Job.objects.filter(
            status=JobStatus.SUCCEEDED, dispatched_at__isnull=False, finished_at__isnull=False)
        .order_by("-finished_at").values_list("dispatched_at", "finished_at")[:RECENT_RENDERS]
    ]
    value = median(durations) if durations else DEFAULT_RENDER_SECONDS
    cache.set("jobs:recent-render-seconds", value, timeout=30)
    return value


@memoize_for(5.0)
def recent_warmup_seconds() -> float:
    """Median time from `warming` to the first `rendering` of recent cold starts; cached briefly.

    The render median is dominated by warm renders, so a job that is warming (a cold model
    booting) would otherwise be promised a few seconds and sit there for a minute.
    """
    cached = cache.get("jobs:recent-warmup-seconds")
    if cached is not None:
        return cached
    started: dict = {}
    for job_id, at in (JobEvent.objects.filter(status=JobStatus.WARMING).order_by("-at")
                       .values_list("job_id", "at")[:RECENT_WARMUPS * 2]):
        started[job_id] = min(at, started.get(job_id, at))
    rendered = (JobEvent.objects.filter(job_id__in=list(started), status=JobStatus.RENDERING)
                .values("job_id").annotate(first=Min("at")))
    durations = [(row["first"] - started[row["job_id"]]).total_seconds() for row in rendered
                 if row["first"] >= started[row["job_id"]]]
    value = median(durations[:RECENT_WARMUPS]) if durations else DEFAULT_WARMUP_SECONDS
    cache.set("jobs:recent-warmup-seconds", value, timeout=30)
    return value


class Timings:
    """The measured durations an ETA is made of, each read on first use and then kept for one
    response, socket message or broadcast pass."""

    @cached_property
    def render(self) -> float:
        return recent_render_seconds()

    @cached_property
    def warmup(self) -> float:
        return recent_warmup_seconds()

    @cached_property
    def slots(self) -> int:
        return total_provider_slots()


def eta_seconds(*, status: str, progress: float, position: int | None, timings: Timings,
                started_at: datetime | None = None, now: datetime | None = None) -> int | None:
    """Seconds until the video should be ready: the one formula every client is given.

    Queued: the wave of renders its place in line falls in (None until the place is known).
    Warming (a cold model booting): a measured cold start and a render, less the time since
    dispatch. Otherwise what is left of a render: by progress once the provider reports it,
    else by the time since dispatch.
    """
    if status in TERMINAL_STATUSES:
        return None
    if status == JobStatus.QUEUED:
        if position is None:
            return None
        return int(math.ceil((position // timings.slots + 1) * timings.render))
    elapsed = ((now or timezone.now()) - started_at).total_seconds() if started_at else 0.0
    if status == JobStatus.WARMING:
        remaining = timings.warmup + timings.render - elapsed
    elif progress:
        remaining = timings.render * (1 - progress)
    else:
        remaining = timings.render - elapsed
    return max(1, int(math.ceil(remaining)))


def job_page_path(job_id) -> str:
    """The studio page of a job (notifications link to it too)."""
    return reverse("job-detail", kwargs={"job_id": job_id})


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


def job_states(jobs: list[Job], *, origin: str | None = None) -> list[JobState]:
    """What a client sees of each job. Places in line, provider availability and measured times
    are read once for all of them.

    `origin` ("https://host", from the request) makes the URLs absolute, as API clients need;
    without it they are paths, for the browser on our own origin.
    """
    positions = queue_positions(jobs=jobs)
    busy = providers_all_unavailable() if positions else False
    timings, now = Timings(), timezone.now()
    socket_origin = "ws" + origin[len("http"):] if origin else ""
    states = []
    for job in jobs:
        position = positions.get(str(job.id))
        states.append(JobState(
            job_id=str(job.id), seq=job.last_seq, status=job.status,
            stage=job_stage_text(job=job, position=position, providers_unavailable=busy),
            progress=round(job.progress, 4), queue_position=position,
            eta_seconds=eta_seconds(status=job.status, progress=job.progress, position=position,
                                    started_at=job.dispatched_at or job.created_at,
                                    timings=timings, now=now),
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
    follows.
    """
    message: JobEventMessage = {
        "type": "job.event",
        "job_id": str(job.id),
        "user_id": job.user_id,
        "seq": event.seq,
        "status": event.status,
        "stage": event.stage,
        "progress": round(event.progress, 4),
        "queue_position": None,
        "eta_seconds": eta_seconds(status=event.status, progress=event.progress, position=None,
                                   started_at=job.dispatched_at or job.created_at,
                                   timings=timings or Timings()),
        "at": iso(event.at),
    }
    if isinstance(event.detail, dict) and event.detail.get("reason"):
        message["reason"] = str(event.detail["reason"])
    if event.status == JobStatus.FAILED:
        message["error"] = _error(job)
    if event.status == JobStatus.SUCCEEDED and job.output_key:
        message["video_url"] = job_video_url(job)
    return message
