"""Time estimates: the one ETA formula every client is given, fed by measured stage durations.

Measured per provider from recent successful jobs: the render (dispatch → done, less any cold
boot) and the cold boot (`warming` → first `rendering`). A provider that has not rendered for a
while is expected cold, so a first video is promised its boot up front instead of discovering it
half-way. A promise is kept per job (a field of one Redis hash) and never goes up without a new
cause: a requeue (the job goes back in line) or a boot the promise did not count; otherwise each
new estimate is clamped to the finish time already promised.
"""

from __future__ import annotations

import math
from datetime import datetime
from functools import cached_property
from statistics import median
from typing import NamedTuple

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from common.memo import memoize_for
from jobs.dispatch import redis as dispatch_redis
from jobs.dispatch.limits import provider_limits
from jobs.models import TERMINAL_STATUSES, Job, JobEvent, JobStatus
from jobs.selectors import total_provider_slots

DEFAULT_RENDER_SECONDS = 60.0
DEFAULT_WARMUP_SECONDS = 40.0  # a typical cold start of a hosted model, until we have measured one
RECENT_RENDERS = 50
RECENT_WARMUPS = 20
RECENT_ROWS = 400  # the newest successful jobs, over all providers, the medians come from
MEASURED_CACHE_SECONDS = 30
PROMISE_SECONDS = 24 * 3600  # the hash of promises lives this long after its last write
ANY = "*"  # the measure over every provider (a queued job has none yet)
MEASURED_KEY = "jobs:eta-measured"
_WARM_KEY = "jobs:eta-warm:"
# Statuses after the provider has shown its model is loaded.
_RENDERED = frozenset({JobStatus.RENDERING, JobStatus.SAVING, JobStatus.SUCCEEDED})


def _seconds(later: datetime, earlier: datetime) -> float:
    return (later - earlier).total_seconds()


@memoize_for(1.0)  # a new success shows within a second (each process keeps its own copy)
def measured_seconds() -> dict[str, dict[str, float]]:
    """{"render": {provider: s}, "warmup": {provider: s}}: medians of recent successful jobs,
    with ANY for all providers together; cached briefly, one query."""
    cached = cache.get(MEASURED_KEY)
    if cached is not None:
        return cached
    renders: dict[str, list[float]] = {}
    warmups: dict[str, list[float]] = {}
    rows = (Job.objects.filter(status=JobStatus.SUCCEEDED, dispatched_at__isnull=False,
                               finished_at__isnull=False)
            .order_by("-finished_at")
            .values_list("provider", "dispatched_at", "warming_at", "first_progress_at",
                         "finished_at")[:RECENT_ROWS])
    for provider, dispatched, warming, rendering, finished in rows:
        boot = 0.0
        if warming is not None and warming >= dispatched:
            if rendering is None or rendering < warming:
                continue  # cold, but when the boot ended is unknown: neither sample is clean
            boot = _seconds(rendering, warming)
            for key in (provider, ANY):
                warmups.setdefault(key, []).append(boot)
        for key in (provider, ANY):
            renders.setdefault(key, []).append(max(0.0, _seconds(finished, dispatched) - boot))
    value = {
        "render": {key: median(samples[:RECENT_RENDERS]) for key, samples in renders.items()},
        "warmup": {key: median(samples[:RECENT_WARMUPS]) for key, samples in warmups.items()},
    }
    if ANY not in value["warmup"]:
        legacy = _legacy_warmup_seconds()
        if legacy is not None:
            value["warmup"][ANY] = legacy
    cache.set(MEASURED_KEY, value, timeout=MEASURED_CACHE_SECONDS)
    return value


def _legacy_warmup_seconds() -> float | None:
    """Cold starts from the timelines of jobs that ran before `warming_at` was recorded."""
    started: dict = {}
    for job_id, at in (JobEvent.objects.filter(status=JobStatus.WARMING).order_by("-at")
                       .values_list("job_id", "at")[:RECENT_WARMUPS * 2]):
        started[job_id] = min(at, started.get(job_id, at))
    if not started:
        return None
    firsts: dict = {}
    for job_id, at in (JobEvent.objects.filter(job_id__in=list(started),
                                               status=JobStatus.RENDERING)
                       .values_list("job_id", "at")):
        firsts[job_id] = min(at, firsts.get(job_id, at))
    durations = [_seconds(at, started[job_id]) for job_id, at in firsts.items()
                 if at >= started[job_id]]
    return median(durations[:RECENT_WARMUPS]) if durations else None


def note_provider_warm(provider: str) -> None:
    """The provider just rendered: its model stays loaded for about KEEP_WARM_IDLE."""
    if provider:
        cache.set(_WARM_KEY + provider, True, timeout=max(1, int(settings.KEEP_WARM_IDLE)))
        warm_providers.forget()  # at once in this process, within a second in the others


def on_job_event(*, job: Job, event: JobEvent) -> None:
    """JOB_EVENT_HOOKS entry: a job that renders tells us its provider is warm; one that
    succeeds is a new measurement (each process still keeps its medians for up to 1 s)."""
    if event.status in _RENDERED:
        note_provider_warm(job.provider)
    if event.status == JobStatus.SUCCEEDED:
        cache.delete(MEASURED_KEY)
    if event.status in TERMINAL_STATUSES:
        job_id = str(job.id)
        dispatch_redis.send(lambda pipe: pipe.hdel(_promises_key(), job_id),
                            what=f"forgetting the promise of {job_id}")


@memoize_for(1.0)  # asked by every submission and poll; a model's state changes far less often
def warm_providers() -> frozenset[str]:
    """The providers that rendered within KEEP_WARM_IDLE (note_provider_warm)."""
    names = list(provider_limits())
    found = cache.get_many([_WARM_KEY + name for name in names])
    return frozenset(name for name in names if found.get(_WARM_KEY + name))


class Timings:
    """The measured durations an ETA is made of, read on first use and then kept for one
    response, socket message or broadcast pass."""

    @cached_property
    def _measured(self) -> dict:
        return measured_seconds()

    @cached_property
    def _warm(self) -> frozenset[str]:
        return warm_providers()

    @cached_property
    def slots(self) -> int:
        return total_provider_slots()

    def render_for(self, provider: str | None = None) -> float:
        renders = self._measured["render"]
        return renders.get(provider or ANY, renders.get(ANY, DEFAULT_RENDER_SECONDS))

    def warmup_for(self, provider: str | None = None) -> float:
        warmups = self._measured["warmup"]
        return warmups.get(provider or ANY, warmups.get(ANY, DEFAULT_WARMUP_SECONDS))

    def expect_cold(self, provider: str | None = None) -> bool:
        """No recent render on the provider (on any, for a job not yet sent): its model is
        most likely unloaded and the job will wait for a boot."""
        return provider not in self._warm if provider else not self._warm


def eta_seconds(*, status: str, progress: float, position: int | None, timings: Timings,
                provider: str | None = None, dispatched_at: datetime | None = None,
                warming_at: datetime | None = None, rendering_at: datetime | None = None,
                now: datetime | None = None) -> int | None:
    """Seconds until the video should be ready, unclamped (see `promise`).

    Queued: the renders of the jobs ahead, shared by the slots (position × render ÷ slots), then
    its own (and a boot if no provider is warm); None until the place is known. Sent: a render
    (and a boot if the provider is expected cold) less the time since dispatch. Warming: what is
    left of the measured boot, then a render. Rendering and after: by progress once the provider
    reports it, else by the time rendered.
    """
    if status in TERMINAL_STATUSES:
        return None
    render, warmup = timings.render_for(provider), timings.warmup_for(provider)
    if status == JobStatus.QUEUED:
        if position is None:
            return None
        boot = warmup if timings.expect_cold() else 0.0
        return max(1, math.ceil(position * render / timings.slots + boot + render))
    now = now or timezone.now()
    dispatched_at = dispatched_at or now
    cold_now = warming_at is not None and warming_at >= dispatched_at
    if status == JobStatus.WARMING:
        booted = _seconds(now, warming_at) if cold_now else 0.0
        remaining = max(0.0, warmup - booted) + render
    elif status in (JobStatus.DISPATCHING, JobStatus.SUBMITTED):
        boot = warmup if timings.expect_cold(provider) else 0.0
        remaining = boot + render - _seconds(now, dispatched_at)
    elif progress:
        remaining = render * (1 - progress)
    else:
        spent = _seconds(now, dispatched_at)
        if cold_now and rendering_at is not None and rendering_at >= warming_at:
            spent -= _seconds(rendering_at, warming_at)  # the boot is not part of a render
        remaining = render - spent
    return max(1, math.ceil(remaining))


def job_eta_seconds(job: Job, *, timings: Timings, position: int | None = None,
                    status: str | None = None, progress: float | None = None,
                    now: datetime | None = None) -> int | None:
    """The unclamped estimate of a job (of one of its events, given its status and progress)."""
    return eta_seconds(status=status or job.status,
                       progress=job.progress if progress is None else progress,
                       position=position, timings=timings, provider=job.provider or None,
                       dispatched_at=job.dispatched_at, warming_at=job.warming_at,
                       rendering_at=job.first_progress_at, now=now)


class Cause(NamedTuple):
    """What an estimate was made under. A promise may only go up on a new cause: a requeue (a
    new send), or a boot that the promise did not already count."""

    sends: int  # a queued job and its first send share 0; a requeue makes it 1, and so on
    boot_counted: bool  # the estimate includes a boot (the provider was expected cold)
    booting: bool  # the provider said it is booting for this send


def cause_of(*, status: str, attempts: int, warming_at: datetime | None,
             dispatched_at: datetime | None, boot_expected: bool = False) -> Cause:
    sends = attempts if status == JobStatus.QUEUED else max(0, attempts - 1)
    booting = status == JobStatus.WARMING or (
        status != JobStatus.QUEUED and warming_at is not None and dispatched_at is not None
        and warming_at >= dispatched_at)
    return Cause(sends, boot_expected or booting, booting)


def job_cause(job: Job, *, timings: Timings, status: str | None = None) -> Cause:
    """The cause of a job's estimate (of one of its events, given its status)."""
    status = status or job.status
    expected = False
    if status == JobStatus.QUEUED:
        expected = timings.expect_cold()
    elif status in (JobStatus.DISPATCHING, JobStatus.SUBMITTED):
        expected = timings.expect_cold(job.provider or None)
    return cause_of(status=status, attempts=job.attempts, warming_at=job.warming_at,
                    dispatched_at=job.dispatched_at, boot_expected=expected)


def _may_rise(kept: tuple, cause: Cause) -> bool:
    sends, boot_counted, _ = kept[0]
    return cause.sends != sends or (cause.booting and not boot_counted)


def promise(estimates: dict[str, tuple[Cause, int | None]], *,
            now: datetime | None = None, new: bool = False) -> dict[str, int | None]:
    """{job id: seconds}, each clamped to the finish time the job was last promised unless its
    cause is new (see `Cause`); a boot that was expected is no news when it comes, and
    our guess about a provider's model changing is none either.

    `estimates` is {job id: (cause, fresh estimate)}. A promise that has run out stays at 1 s
    (the page then says the job is taking longer) until a new cause. `new`: the jobs were
    created by this request, so nothing was promised them yet and nothing is read (a 202
    waited for that round trip, and for the GIL after it, under a spike).
    """
    live = {job_id: value for job_id, value in estimates.items() if value[1] is not None}
    if not live:
        return {job_id: None for job_id in estimates}
    at = (now or timezone.now()).timestamp()
    ids = list(live)
    client = dispatch_redis.client()
    try:
        stored = [None] * len(ids) if new else client.hmget(_promises_key(), ids)
    except Exception:  # Redis down: fresh estimates, unclamped, rather than none
        stored = [None] * len(ids)
    previous = {job_id: _decoded(raw) for job_id, raw in zip(ids, stored, strict=True) if raw}
    result: dict[str, int | None] = {job_id: None for job_id in estimates}
    changed = {}
    for job_id, (cause, seconds) in live.items():
        finish = at + seconds
        kept = previous.get(job_id)
        if kept and not _may_rise(kept, cause):
            counted = kept[0][1] or cause.boot_counted
            if kept[1] <= finish:
                finish = kept[1]
            if finish != kept[1] or counted != kept[0][1]:
                changed[job_id] = _encoded((cause.sends, counted, cause.booting), finish)
        else:
            changed[job_id] = _encoded(tuple(cause), finish)
        result[job_id] = max(1, int(finish - at + 0.5))
    if changed:
        try:
            pipe = client.pipeline(transaction=False)
            pipe.hset(_promises_key(), mapping=changed)
            pipe.expire(_promises_key(), PROMISE_SECONDS)
            pipe.execute()
        except Exception:
            pass
    return result


def _promises_key() -> str:
    """One hash, {job id: promise}: a pass over the whole line reads and writes it in one
    command each, with no per-key pickling (a pass over 4,500 queued jobs spent half its
    100 ms in the cache's get_many and set_many)."""
    return dispatch_redis.key("eta-promises")


def _encoded(cause: tuple, finish: float) -> str:
    sends, boot_counted, booting = cause
    return f"{sends},{int(boot_counted)},{int(booting)},{finish:.3f}"


def _decoded(raw: bytes) -> tuple[tuple[int, bool, bool], float]:
    sends, boot_counted, booting, finish = raw.decode().split(",")
    return (int(sends), boot_counted == "1", booting == "1"), float(finish)


def job_promises(jobs: list[Job], *, positions: dict, timings: Timings,
                 now: datetime | None = None, new: bool = False) -> dict[str, int | None]:
    """{job id: seconds} the clients of these jobs are told (one read of the promises hash,
    unless the jobs are `new`, and one write when any changed)."""
    now = now or timezone.now()
    return promise({str(job.id): (
        job_cause(job, timings=timings),
        job_eta_seconds(job, timings=timings, position=positions.get(str(job.id)), now=now))
        for job in jobs}, now=now, new=new)
