"""What the sockets read: which jobs a snapshot shows, and missed events from the timeline.

Every job state and event they send is built by the one presenter (jobs/presenter.py), as the
API's and the pages' are.
"""

from __future__ import annotations

from jobs.eta import Timings
from jobs.models import ACTIVE_STATUSES, TERMINAL_STATUSES, Job
from jobs.presenter import JobState, job_event_message, job_state, job_states
from jobs.selectors import job_events_after, job_get_for_user

RECENT_JOBS = 24


def job_snapshot(*, user, job_id) -> JobState:
    """One job's state for its owner; Http404 for anyone else or no such job."""
    return job_state(job_get_for_user(user=user, job_id=job_id))


def jobs_snapshot(*, user) -> list[JobState]:
    """The user's active jobs and the most recent finished ones, newest first."""
    jobs = Job.objects.filter(user=user).select_related("selfie").order_by("-created_at", "-id")
    active = list(jobs.filter(status__in=ACTIVE_STATUSES))
    recent = list(jobs.filter(status__in=TERMINAL_STATUSES)[:RECENT_JOBS])
    return job_states(sorted(active + recent, key=lambda job: job.created_at, reverse=True))


def client_event(message: dict) -> dict:
    """A channel-layer `job.event` as clients receive it: the owner's id is for routing only."""
    return {key: value for key, value in message.items() if key != "user_id"}


def live_events_after(*, job_id, after: int, until: int | None = None) -> list[dict]:
    """Timeline events after `after` (and up to `until`), as live ones are sent."""
    job = Job.objects.get(pk=job_id)
    events = job_events_after(job=job, after=after)
    if until is not None:
        events = events.filter(seq__lte=until)
    timings = Timings()
    return [client_event(job_event_message(job, event, timings=timings)) for event in events]
