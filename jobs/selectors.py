"""Every read about jobs and selfies: ownership, the fair-share queue order, media URLs.

What a client sees of a job (stage, ETA, URLs) is built from these in jobs/presenter.py.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import (
    Count,
    DateTimeField,
    DurationField,
    ExpressionWrapper,
    F,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
)
from django.http import Http404
from django.urls import reverse
from django.utils import timezone

from common.memo import memoize_for
from common.prepared import PreparedQuery
from jobs.dispatch import line_rank
from jobs.dispatch.limits import provider_limits
from jobs.line import ROUND_SHIFT, round_of
from jobs.models import (
    ACTIVE_STATUSES,
    SLOT_HOLDING_STATUSES,
    TERMINAL_STATUSES,
    BreakerState,
    Job,
    JobEvent,
    JobStatus,
    ProviderState,
    Selfie,
)
from jobs.s3 import signed_url
from jobs.stages import COLD_START, PROVIDERS_BUSY, STAGE_TEXT, spoken_duration

# Every status poll asks this; prepared, as building and compiling it cost more than running it.
_job_of_user = PreparedQuery(
    lambda job_id, user_id: Job.objects.select_related("selfie")
    .filter(pk=job_id, user_id=user_id).order_by(),
    job_id=Job._meta.pk, user_id=Job._meta.get_field("user").target_field)


def job_get_for_user(*, user, job_id) -> Job:
    """The user's own job, or 404 (never 403: another user's ids reveal nothing)."""
    try:
        found = _job_of_user(job_id=job_id, user_id=user.pk)
    except (ValueError, TypeError, ValidationError):
        found = []
    if not found:
        raise Http404("No such job.")
    return found[0]


def jobs_of_users(pairs: list[tuple[uuid.UUID, int]]) -> list[Job | None]:
    """job_get_for_user of many (job id, user id) pairs in one query: each pair's job with its
    selfie, or None where it is not that user's."""
    jobs = Job.objects.select_related("selfie").filter(pk__in={job_id for job_id, _ in pairs})
    found = {job.pk: job for job in jobs.order_by()}
    return [job if (job := found.get(job_id)) is not None and job.user_id == user_id else None
            for job_id, user_id in pairs]


def job_list_for_user(*, user, status: str | None = None) -> QuerySet[Job]:
    jobs = Job.objects.filter(user=user).select_related("selfie").order_by("-created_at", "-id")
    if status:
        jobs = jobs.filter(status=status)
    return jobs


def job_events_after(*, job: Job, after: int = 0) -> QuerySet[JobEvent]:
    return job.events.filter(seq__gt=after).order_by("seq")


def _since_created(field) -> ExpressionWrapper:
    return ExpressionWrapper(field - F("created_at"), output_field=DurationField())


def jobs_with_timings(jobs: QuerySet[Job]) -> QuerySet[Job]:
    """Jobs annotated, in the same query, with their durations (None until reached):
    `queue_time` (created → first dispatch), `first_progress_time` (created → rendering) and
    `total_time` (created → finished). The first dispatch is read through the (job, seq) index."""
    first_dispatch = (JobEvent.objects.filter(job=OuterRef("pk"), status=JobStatus.DISPATCHING)
                      .order_by("seq").values("at")[:1])
    return jobs.annotate(
        first_dispatched_at=Subquery(first_dispatch, output_field=DateTimeField()),
        queue_time=_since_created(F("first_dispatched_at")),
        first_progress_time=_since_created(F("first_progress_at")),
        total_time=_since_created(F("finished_at")))


@dataclass(frozen=True)
class TimelineEntry:
    event: JobEvent
    duration: timedelta | None  # until the next event; until now for the last of a live job
    ongoing: bool


def job_timeline(*, job: Job, now=None) -> tuple[list[TimelineEntry], dict[str, timedelta]]:
    """The job's events, each with how long it lasted, and the time spent in each status
    (summed over repeats, in order of first appearance). One query."""
    now = now or timezone.now()
    events = list(job.events.order_by("seq"))
    entries, per_status = [], {}
    for event, following in zip(events, [*events[1:], None]):
        if following is not None:
            duration, ongoing = following.at - event.at, False
        elif event.status in TERMINAL_STATUSES:
            duration, ongoing = None, False
        else:
            duration, ongoing = now - event.at, True
        entries.append(TimelineEntry(event=event, duration=duration, ongoing=ongoing))
        if duration is not None:
            per_status[event.status] = per_status.get(event.status, timedelta()) + duration
    return entries, per_status


def selfie_get_for_user(*, user, selfie_id) -> Selfie:
    try:
        return Selfie.objects.get(pk=selfie_id, user=user)
    except (Selfie.DoesNotExist, ValueError, TypeError, ValidationError):
        raise Http404("No such selfie.") from None


def selfie_list_for_user(*, user) -> QuerySet[Selfie]:
    return Selfie.objects.filter(user=user).order_by("-created_at", "-id")


def user_line_summary(*, user) -> tuple[int, int]:
    """(unfinished jobs, the round of the user's latest one): one indexed query for a submit."""
    summary = Job.objects.filter(user=user, status__in=ACTIVE_STATUSES).aggregate(
        count=Count("id"), last_key=Max("line_key"))
    return summary["count"], round_of(summary["last_key"])


@dataclass(frozen=True)
class SubmitInputs:
    """What a submission needs to read, from one query."""

    selfie: Selfie
    active_jobs: int  # the user's unfinished jobs, for the quota
    users_last_round: int  # the round of their latest unfinished job (0: none)
    serving_round: int | None  # the line's first waiting round (line_serving_round)


def submit_inputs(*, user, selfie_id) -> SubmitInputs | None:
    """The user's selfie, their quota count and latest round, and the line's serving round, in
    one indexed query (four ORM queries cost a submission more to build than to run); None when
    the selfie is not theirs."""
    return submit_inputs_many([(user, selfie_id)])[0]


def submit_inputs_many(submissions: list[tuple[object, object]]) -> list[SubmitInputs | None]:
    """submit_inputs of many (user, selfie id) pairs in one query, in their order."""
    wanted = []
    for user, selfie_id in submissions:
        try:
            wanted.append((user.pk, Selfie._meta.pk.to_python(selfie_id)))
        except ValidationError:
            wanted.append(None)
    ids = {pair[1] for pair in wanted if pair is not None}
    if not ids:
        return [None] * len(submissions)
    active = ", ".join(["%s"] * len(ACTIVE_STATUSES))
    job_table, selfie_table = Job._meta.db_table, Selfie._meta.db_table
    rows = Selfie.objects.raw(
        f"""SELECT s.*,
            (SELECT COUNT(*) FROM {job_table} j
              WHERE j.user_id = s.user_id AND j.status IN ({active})) AS active_jobs,
            (SELECT MAX(j.line_key) FROM {job_table} j
              WHERE j.user_id = s.user_id AND j.status IN ({active})) AS users_last_key,
            (SELECT j.line_key FROM {job_table} j WHERE j.status = %s AND j.line_key >= %s
              ORDER BY j.line_key LIMIT 1) AS serving_key
            FROM {selfie_table} s WHERE s.id IN ({", ".join(["%s"] * len(ids))})""",
        [*sorted(ACTIVE_STATUSES), *sorted(ACTIVE_STATUSES), JobStatus.QUEUED, 1 << ROUND_SHIFT,
         *(Selfie._meta.pk.get_db_prep_value(selfie_pk, connection) for selfie_pk in ids)])
    found = {(selfie.user_id, selfie.pk): selfie for selfie in rows}
    results = []
    for pair in wanted:
        selfie = found.get(pair) if pair is not None else None
        results.append(None if selfie is None else SubmitInputs(
            selfie=selfie, active_jobs=selfie.active_jobs,
            users_last_round=round_of(selfie.users_last_key),
            serving_round=(round_of(selfie.serving_key)
                           if selfie.serving_key is not None else None)))
    return results


def line_serving_round() -> int | None:
    """The first round still waiting (the head's 429-bounced jobs aside), or None."""
    key = (Job.objects.filter(status=JobStatus.QUEUED, line_key__gte=1 << ROUND_SHIFT)
           .order_by("line_key").values_list("line_key", flat=True).first())
    return round_of(key) if key is not None else None


def queued_jobs_in_dispatch_order(*, ready_at=None) -> QuerySet[Job]:
    """Queued jobs in the order the engine dispatches them: by line key (jobs/line.py).

    With `ready_at`, jobs still in a retry back-off (not_before later than it) are left out.
    """
    jobs = Job.objects.filter(status=JobStatus.QUEUED)
    if ready_at is not None:
        jobs = jobs.filter(Q(not_before__isnull=True) | Q(not_before__lte=ready_at))
    return jobs.order_by("line_key", "id")


def queue_positions(*, jobs: list[Job]) -> dict:
    """{job id: jobs ahead of it (0 = next)} for the given jobs that are queued.

    A rank in the line's index in Redis (jobs/dispatch/line_rank.py), O(log n) in the length of
    the line; while the index is not seeded, an indexed count per job in the database, which
    walks every job ahead (plain SQL: building the ORM's query cost more than running it).
    """
    queued = [job for job in jobs if job.status == JobStatus.QUEUED]
    if not queued:
        return {}
    places = line_rank.places(queued)
    if places is not None:
        return places
    sql = (f"SELECT COUNT(*) FROM {Job._meta.db_table} WHERE status = %s "
           "AND (line_key < %s OR (line_key = %s AND id < %s))")
    positions = {}
    with connection.cursor() as cursor:
        for job in queued:
            cursor.execute(sql, [JobStatus.QUEUED, job.line_key, job.line_key,
                                 Job._meta.pk.get_db_prep_value(job.id, connection)])
            positions[str(job.id)] = cursor.fetchone()[0]
    return positions


def total_provider_slots() -> int:
    return max(1, sum(provider_limits().values()))


def job_video_url(job: Job) -> str | None:
    """A short-lived signed URL of the finished video, only once the job has succeeded."""
    if job.status != JobStatus.SUCCEEDED or not job.output_key:
        return None
    return signed_url(job.output_key, content_type="video/mp4")


SHARE_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")  # secrets.token_urlsafe's alphabet


def job_get_shared(*, token: str) -> Job:
    """The finished video shared under `token`, or 404: an unknown, turned-off or malformed
    token and a video that is gone all look the same."""
    if not SHARE_TOKEN.fullmatch(token):  # e.g. a NUL, which PostgreSQL refuses (a 500)
        raise Http404("No such video.")
    job = Job.objects.filter(share_token=token, status=JobStatus.SUCCEEDED).first()
    if job is None or not job.output_key:
        raise Http404("No such video.")
    return job


def job_share_path(job: Job) -> str | None:
    """The public page of the video while its owner shares it."""
    if not job.share_token:
        return None
    return reverse("share-page", kwargs={"token": job.share_token})


def job_poster_url(job: Job) -> str | None:
    """A short-lived signed URL of the video's poster frame (made when the video was saved)."""
    if job.status != JobStatus.SUCCEEDED or not job.poster_key:
        return None
    return signed_url(job.poster_key, content_type="image/jpeg")


def selfie_thumbnail_url(selfie: Selfie | None) -> str | None:
    if selfie is None or not selfie.thumbnail:
        return None
    return signed_url(selfie.thumbnail.name)


def selfie_image_url(selfie: Selfie | None) -> str | None:
    if selfie is None or not selfie.image:
        return None
    return signed_url(selfie.image.name)


def jobs_holding_slots(*, provider: str) -> QuerySet:
    """Ids of the jobs that occupy one of `provider`'s slots right now."""
    return (Job.objects.filter(provider=provider, status__in=SLOT_HOLDING_STATUSES)
            .values_list("id", flat=True))


@memoize_for(1.0)
def providers_all_unavailable() -> bool:
    """True when no configured provider can take a job now: each is disabled, paused or open."""
    now = timezone.now()
    states = {state.name: state
              for state in ProviderState.objects.filter(name__in=list(settings.PROVIDERS))}

    def unavailable(name: str) -> bool:
        state = states.get(name)  # no row yet: a fresh, healthy provider
        return state is not None and (not state.enabled
                                      or bool(state.paused_until and state.paused_until > now)
                                      or state.breaker_state == BreakerState.OPEN)
    return all(unavailable(name) for name in settings.PROVIDERS)


def job_stage_text(*, job: Job, position: int | None,
                   providers_unavailable: bool | None = None) -> str:
    """What the user reads: a queued job says its place in line (1 = next) or that all are busy."""
    if job.status != JobStatus.QUEUED:
        return job.stage
    if providers_unavailable is None:
        providers_unavailable = providers_all_unavailable()
    if providers_unavailable:
        return PROVIDERS_BUSY
    if position is None:
        return job.stage
    return f"{STAGE_TEXT[JobStatus.QUEUED]} — position {position + 1}"


def selfie_ids_in_use(*, user) -> set:
    """Ids of the user's selfies that a running job still needs (they cannot be deleted yet)."""
    return set(Job.objects.filter(user=user, status__in=ACTIVE_STATUSES, selfie__isnull=False)
               .values_list("selfie_id", flat=True))


def cold_start_text(warmup_seconds: float) -> str:
    """What a job waiting for a cold model says, with how long a boot takes (measured)."""
    return f"{COLD_START} (first video takes about {spoken_duration(warmup_seconds)})"
