"""Every read for the live pages: job states for snapshots, live event payloads, notifications."""

from __future__ import annotations

import math
from statistics import median

from django.core.cache import cache
from django.db.models import F, Min, QuerySet
from django.utils import timezone

from jobs.models import ACTIVE_STATUSES, TERMINAL_STATUSES, Job, JobEvent, JobStatus
from jobs.selectors import (
    eta_seconds,
    job_events_after,
    job_get_for_user,
    job_video_url,
    queue_positions,
    recent_render_seconds,
    selfie_thumbnail_url,
)
from jobs.services.transitions import event_message
from notifications.models import Notification

RECENT_JOBS = 24
DEFAULT_WARMUP_SECONDS = 30.0  # a typical cold start of a hosted model, until we have measured one
RECENT_WARMUPS = 20


def recent_warmup_seconds() -> float:
    """Median time from `warming` to the first `rendering` of recent cold starts; cached briefly.

    The render-time median that ETAs use is dominated by warm renders, so a job that is warming
    (a cold model booting) would otherwise be promised a few seconds and sit there for a minute.
    """
    cached = cache.get("notifications:recent-warmup-seconds")
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
    cache.set("notifications:recent-warmup-seconds", value, timeout=30)
    return value


def job_state(job: Job, *, position: int | None = None) -> dict:
    """The current fields of a job as the sockets and pages show them."""
    error = ({"code": job.error_code, "message": job.error_message}
             if job.status == JobStatus.FAILED else None)
    eta = eta_seconds(job=job, position=position)
    if job.status == JobStatus.WARMING:  # the model is booting: its measured boot time, then the render
        since = (timezone.now() - (job.dispatched_at or job.updated_at)).total_seconds()
        eta = max(1, int(math.ceil(recent_warmup_seconds() + recent_render_seconds() - since)))
    return {
        "job_id": str(job.id), "seq": job.last_seq, "status": job.status, "stage": job.stage,
        "progress": round(job.progress, 4), "queue_position": position,
        "eta_seconds": eta, "style": job.style,
        "video_url": job_video_url(job), "error": error,
        "thumbnail_url": selfie_thumbnail_url(job.selfie),
        "created_at": job.created_at.isoformat(), "updated_at": job.updated_at.isoformat(),
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def job_snapshot(*, user, job_id) -> dict:
    """One job's state for its owner; Http404 for anyone else or no such job."""
    job = job_get_for_user(user=user, job_id=job_id)
    position = queue_positions(jobs=[job]).get(str(job.id))
    return job_state(job, position=position)


def jobs_snapshot(*, user) -> list[dict]:
    """The user's active jobs and the most recent finished ones, newest first."""
    jobs = Job.objects.filter(user=user).select_related("selfie").order_by("-created_at", "-id")
    active = list(jobs.filter(status__in=ACTIVE_STATUSES))
    recent = list(jobs.filter(status__in=TERMINAL_STATUSES)[:RECENT_JOBS])
    positions = queue_positions(jobs=active)
    merged = sorted(active + recent, key=lambda job: job.created_at, reverse=True)
    return [job_state(job, position=positions.get(str(job.id))) for job in merged]


def live_event(message: dict, *, render_seconds: float,
               warmup_seconds: float = DEFAULT_WARMUP_SECONDS) -> dict:
    """A channel-layer `job.event` as clients receive it (no user id; position and ETA added).

    A queued job's position arrives in the coalesced `queue.positions` message that follows.
    Callers on the event loop pass measured times read at connect (no database here).
    """
    status = message["status"]
    eta = None
    if status not in TERMINAL_STATUSES and status != JobStatus.QUEUED:
        eta = max(1, int(math.ceil(render_seconds * (1 - message["progress"]))))
        if status == JobStatus.WARMING:
            eta = int(math.ceil(warmup_seconds + render_seconds))
    payload = {key: value for key, value in message.items() if key != "user_id"}
    payload.update(queue_position=None, eta_seconds=eta)
    return payload


def live_events_after(*, job_id, after: int, until: int | None = None) -> list[dict]:
    """Timeline events after `after` (and up to `until`), shaped like live ones."""
    job = Job.objects.get(pk=job_id)
    events = job_events_after(job=job, after=after)
    if until is not None:
        events = events.filter(seq__lte=until)
    render, warmup = recent_render_seconds(), recent_warmup_seconds()
    return [live_event(dict(event_message(job, event)), render_seconds=render, warmup_seconds=warmup)
            for event in events]


def notification_list_for_user(*, user, unread_first: bool = False) -> QuerySet[Notification]:
    notifications = Notification.objects.filter(user=user)
    if unread_first:
        return notifications.order_by(F("read_at").asc(nulls_first=True), "-created_at", "-id")
    return notifications.order_by("-created_at", "-id")


def notification_unread_count(*, user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notification_payload(notification: Notification) -> dict:
    return {
        "id": notification.id, "kind": notification.kind, "title": notification.title,
        "body": notification.body,
        "job_id": str(notification.job_id) if notification.job_id else None,
        "url": f"/app/jobs/{notification.job_id}/" if notification.job_id else None,
        "read_at": notification.read_at.isoformat() if notification.read_at else None,
        "created_at": notification.created_at.isoformat(),
    }
