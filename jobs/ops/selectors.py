"""The operations dashboard's figures: every query is an indexed range or count.

Live counts (queue, in flight) come from the database; per-provider response counts and the
requests the web processes turned away from the Redis counters (jobs/ops/counters.py);
last-hour series and percentiles from the jobs that were created or finished in the window
(indexes job_created and job_status_finished), with the percentiles taken over at most the
latest PERCENTILE_SAMPLE finished jobs.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count
from django.db.models.functions import TruncMinute
from django.utils import timezone

from common.wsgi_threads import SHED_REASONS
from jobs.dispatch import slots
from jobs.dispatch.limits import provider_limits, provider_order
from jobs.models import Job, JobStatus, ProviderState
from jobs.ops import counters
from jobs.selectors import SLOT_HOLDING_STATUSES

WINDOW_MINUTES = 60
PERCENTILE_SAMPLE = 5000
TOP_FAILURE_REASONS = 5


def queue_summary(*, now: datetime) -> dict:
    """Queued jobs and how long the oldest has waited: the latency users feel."""
    queued = Job.objects.filter(status=JobStatus.QUEUED)
    oldest = queued.order_by("created_at").values_list("created_at", flat=True).first()
    return {"depth": queued.count(),
            "oldest_age_seconds": round((now - oldest).total_seconds(), 3) if oldest else 0.0}


def throughput_per_minute(*, now: datetime, minutes: int = WINDOW_MINUTES) -> list[dict]:
    """[{minute, submitted, succeeded, failed}] for each of the last `minutes` minutes."""
    start = (now - timedelta(minutes=minutes - 1)).replace(second=0, microsecond=0)
    series = {start + timedelta(minutes=i): {"submitted": 0, "succeeded": 0, "failed": 0}
              for i in range(minutes)}
    created = (Job.objects.filter(created_at__gte=start).annotate(minute=TruncMinute("created_at"))
               .values("minute").annotate(n=Count("id")).order_by())
    for row in created:
        if row["minute"] in series:
            series[row["minute"]]["submitted"] = row["n"]
    for status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
        finished = (Job.objects.filter(status=status, finished_at__gte=start)
                    .annotate(minute=TruncMinute("finished_at"))
                    .values("minute").annotate(n=Count("id")).order_by())
        for row in finished:
            if row["minute"] in series:
                series[row["minute"]][status.value] = row["n"]
    return [{"minute": minute.isoformat(), **counts} for minute, counts in series.items()]


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = min(len(ordered), max(1, math.ceil(fraction * len(ordered))))
    return round(ordered[rank - 1], 3)


def latency_percentiles(*, now: datetime) -> dict:
    """{stage: {p50, p95, n}} in seconds, over jobs that succeeded in the last hour."""
    recent = (Job.objects.filter(status=JobStatus.SUCCEEDED,
                                 finished_at__gte=now - timedelta(minutes=WINDOW_MINUTES))
              .order_by("-finished_at")
              .only("created_at", "dispatched_at", "accepted_at", "first_progress_at",
                    "finished_at")[:PERCENTILE_SAMPLE])
    durations: dict[str, list[float]] = {stage: [] for stage in counters.STAGES}
    for job in recent:
        for stage, start, end in counters.stage_spans(job):
            durations[stage].append(max(0.0, (end - start).total_seconds()))
    return {stage: {"p50": percentile(values, 0.50), "p95": percentile(values, 0.95),
                    "n": len(values), "what": counters.STAGES[stage]}
            for stage, values in durations.items()}


def provider_health(*, at: float | None = None) -> list[dict]:
    """Each configured provider: limit, slots in use, circuit, pause, 429s and errors."""
    limits = provider_limits()
    states = {state.name: state
              for state in ProviderState.objects.filter(name__in=list(settings.PROVIDERS))}
    in_flight = dict(Job.objects.filter(provider__in=list(settings.PROVIDERS),
                                        status__in=SLOT_HOLDING_STATUSES)
                     .values_list("provider").annotate(n=Count("id")).order_by())
    last_5 = counters.window(counters.PROVIDER_RESPONSES, minutes=5, at=at)
    last_60 = counters.window(counters.PROVIDER_RESPONSES, minutes=60, at=at)
    now = timezone.now()
    rows = []
    for name in provider_order():
        state = states.get(name) or ProviderState(name=name)
        paused = bool(state.paused_until and state.paused_until > now)
        rows.append({
            "name": name, "enabled": state.enabled, "limit": limits.get(name, 0),
            "in_flight": in_flight.get(name, 0), "slots_in_use": slots.in_use(provider=name),
            "breaker": state.breaker_state, "paused": paused,
            "paused_until": state.paused_until.isoformat() if paused else None,
            "rate_limited_5m": last_5.get(f"{name}:429", 0),
            "rate_limited_60m": last_60.get(f"{name}:429", 0),
            "errors_5m": _errors(last_5, name), "errors_60m": _errors(last_60, name),
            "responses_60m": sum(n for label, n in last_60.items()
                                 if counters.split_provider_label(label)[0] == name),
        })
    return rows


def _errors(window: dict[str, int], name: str) -> int:
    return sum(window.get(f"{name}:{cls}", 0) for cls in ("5xx", "timeout", "4xx"))


def requests_turned_away(*, at: float | None = None) -> dict:
    """{reason: {"last_5m", "last_60m"}}: requests the web processes never ran, on every
    machine — `waited` (no thread free within WEB_QUEUE_TIMEOUT: answered 503), `client_left`
    (the client gave up while it waited). Above 0, the web tier is short of CPU."""
    last_5 = counters.window(counters.REQUESTS_SHED, minutes=5, at=at)
    last_60 = counters.window(counters.REQUESTS_SHED, minutes=60, at=at)
    return {reason: {"last_5m": last_5.get(reason, 0), "last_60m": last_60.get(reason, 0)}
            for reason in SHED_REASONS}


def failure_reasons(*, now: datetime, limit: int = TOP_FAILURE_REASONS) -> list[dict]:
    """The most frequent error codes of jobs that failed in the last hour."""
    rows = (Job.objects.filter(status=JobStatus.FAILED,
                               finished_at__gte=now - timedelta(minutes=WINDOW_MINUTES))
            .values("error_code").annotate(n=Count("id")).order_by("-n", "error_code")[:limit])
    return [{"reason": row["error_code"] or "unknown", "count": row["n"]} for row in rows]


def ops_snapshot(*, now: datetime | None = None) -> dict:
    """Everything the dashboard shows, as JSON-ready data."""
    now = now or timezone.now()
    return {
        "generated_at": now.isoformat(),
        "queue": queue_summary(now=now),
        "throughput": throughput_per_minute(now=now),
        "providers": provider_health(at=now.timestamp()),
        "turned_away": requests_turned_away(at=now.timestamp()),
        "latency": latency_percentiles(now=now),
        "failure_reasons": failure_reasons(now=now),
    }
