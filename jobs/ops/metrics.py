"""GET /metrics: Prometheus text format.

django-prometheus's request, latency and database metrics are per process (or, with
PROMETHEUS_MULTIPROC_DIR set, aggregated over this machine's processes by prometheus_client's
multiprocess mode). Surge's own metrics are computed at scrape time from the database and the
Redis counters (jobs/ops/counters.py), so every web process answers the same whatever process
did the work. Protected by METRICS_TOKEN (a bearer token) or METRICS_ALLOWED_IPS; in
production, with neither set, /metrics answers 403.
"""

from __future__ import annotations

import hmac
import ipaddress
import os

from django.conf import settings
from django.db.models import Count
from django.http import HttpResponse
from django.utils import timezone
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.multiprocess import MultiProcessCollector

from common.api import json_error
from common.ratelimit import client_ip
from common.wsgi_threads import SHED_REASONS
from jobs.dispatch import slots
from jobs.dispatch.limits import provider_limits
from jobs.models import ACTIVE_STATUSES, BreakerState, Job, ProviderState
from jobs.ops import counters
from jobs.ops.selectors import queue_summary
from jobs.selectors import SLOT_HOLDING_STATUSES


class SurgeCollector:
    """Jobs, queue, providers, webhooks, sockets and stage durations, read at scrape time."""

    def collect(self):
        now = timezone.now()
        jobs = GaugeMetricFamily("surge_jobs", "Unfinished jobs by status.", labels=["status"])
        active = dict(Job.objects.filter(status__in=ACTIVE_STATUSES).values_list("status")
                      .annotate(n=Count("id")).order_by())
        for status in sorted(ACTIVE_STATUSES):
            jobs.add_metric([status], active.get(status, 0))
        yield jobs
        created = CounterMetricFamily("surge_jobs_created", "Jobs created.")
        created.add_metric([], counters.totals(counters.JOBS_CREATED).get("all", 0))
        yield created
        finished = CounterMetricFamily("surge_jobs_finished", "Jobs finished, by final status.",
                                       labels=["status"])
        for status, value in sorted(counters.totals(counters.JOBS_FINISHED).items()):
            finished.add_metric([status], value)
        yield finished

        queue = queue_summary(now=now)
        yield GaugeMetricFamily("surge_queue_depth", "Jobs waiting in line.",
                                value=queue["depth"])
        yield GaugeMetricFamily("surge_queue_oldest_age_seconds",
                                "How long the oldest queued job has waited.",
                                value=queue["oldest_age_seconds"])
        yield from self._providers()

        webhooks = CounterMetricFamily("surge_webhooks", "Provider webhooks received, by result "
                                       "(verified, refused, duplicate).", labels=["result"])
        for result, value in sorted(counters.totals(counters.WEBHOOKS).items()):
            webhooks.add_metric([result], value)
        yield webhooks
        yield GaugeMetricFamily("surge_websockets_open", "Open WebSockets over all web processes.",
                                value=counters.gauge_sum(counters.WEBSOCKETS))
        shed = CounterMetricFamily(
            "surge_http_requests_shed", "HTTP requests the web processes never ran: waited past "
            "WEB_QUEUE_TIMEOUT (answered 503) or their client left while they waited.",
            labels=["reason"])
        shed_totals = counters.totals(counters.REQUESTS_SHED)
        for reason in SHED_REASONS:  # 0 until the first, so that alerts on rate() work
            shed.add_metric([reason], shed_totals.get(reason, 0))
        yield shed

        stages = HistogramMetricFamily("surge_stage_duration_seconds",
                                       "Stage durations of succeeded jobs.", labels=["stage"])
        for stage in counters.STAGES:
            buckets, total, _ = counters.histogram(stage)
            stages.add_metric([stage], buckets=buckets, sum_value=total)
        yield stages

    def _providers(self):
        limits = provider_limits()
        limit = GaugeMetricFamily("surge_provider_limit", "Concurrent jobs allowed (0: disabled).",
                                  labels=["provider"])
        in_flight = GaugeMetricFamily("surge_provider_in_flight", "Jobs holding a provider slot.",
                                      labels=["provider"])
        held = dict(Job.objects.filter(provider__in=list(settings.PROVIDERS),
                                       status__in=SLOT_HOLDING_STATUSES)
                    .values_list("provider").annotate(n=Count("id")).order_by())
        slots_used = GaugeMetricFamily("surge_provider_slots_in_use",
                                       "Provider slots taken in Redis.", labels=["provider"])
        breaker = GaugeMetricFamily("surge_provider_breaker_state",
                                    "1 for the provider's circuit state.",
                                    labels=["provider", "state"])
        states = {state.name: state.breaker_state for state in
                  ProviderState.objects.filter(name__in=list(settings.PROVIDERS))}
        for name in sorted(settings.PROVIDERS):
            limit.add_metric([name], limits.get(name, 0))
            in_flight.add_metric([name], held.get(name, 0))
            slots_used.add_metric([name], slots.in_use(provider=name))
            current = states.get(name, BreakerState.CLOSED)
            for state in BreakerState:
                breaker.add_metric([name, state.value], int(state == current))
        yield from (limit, in_flight, slots_used, breaker)

        responses = CounterMetricFamily(
            "surge_provider_responses", "Provider API calls by outcome class "
            "(2xx, 429, 4xx, 5xx, timeout: no answer).", labels=["provider", "class"])
        for label, value in sorted(counters.totals(counters.PROVIDER_RESPONSES).items()):
            responses.add_metric(list(counters.split_provider_label(label)), value)
        yield responses


def _process_registry():
    """django-prometheus's metrics: this machine's processes when multiprocess mode is on."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry
    return REGISTRY


_surge_registry = CollectorRegistry(auto_describe=False)
_surge_registry.register(SurgeCollector())


def allowed(request) -> bool:
    """A matching bearer token, else an address on the allow-list; open only in development."""
    token = settings.METRICS_TOKEN
    if token:
        header = request.headers.get("Authorization", "")
        return hmac.compare_digest(header.encode(), f"Bearer {token}".encode())
    if settings.METRICS_ALLOWED_IPS:
        try:
            address = ipaddress.ip_address(client_ip(request))
        except ValueError:
            return False
        return any(address in ipaddress.ip_network(network, strict=False)
                   for network in settings.METRICS_ALLOWED_IPS)
    return not settings.PRODUCTION


def metrics_view(request):
    if not allowed(request):
        return json_error(403, "Metrics need METRICS_TOKEN as a bearer token or an address "
                               "in METRICS_ALLOWED_IPS.")
    body = generate_latest(_process_registry()) + generate_latest(_surge_registry)
    return HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
