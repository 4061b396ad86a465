"""GET /metrics: Prometheus text with Surge's figures, the same from any process, and guarded."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from types import SimpleNamespace

import pytest
from prometheus_client.parser import text_string_to_metric_families

from accounts.models import User
from jobs.models import BreakerState, Job, JobStatus, ProviderState
from jobs.ops import counters
from jobs.ops.selectors import ops_snapshot
from launcher.embedded import BASE_DIR
from project.asgi import application
from providers.exceptions import PermanentError, RateLimited, TransientError

pytestmark = pytest.mark.django_db


def samples(text: str) -> dict[tuple, float]:
    """{(sample name, sorted labels): value} of a /metrics body."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


@pytest.fixture
def one_provider(settings):
    settings.PROVIDERS = {"main": {"BACKEND": "providers.backends.local.LocalBackend",
                                   "BASE_URL": "http://127.0.0.1:9", "MAX_CONCURRENCY": 4}}


def test_metrics_show_jobs_queue_providers_webhooks_sockets_and_stages(client, one_provider):
    """Every Surge metric is exposed with the value the database and the counters hold."""
    user = User.objects.create_user(f"{uuid.uuid4().hex[:8]}@example.com", "x-Strong-Pass-99")
    for _ in range(2):
        Job.objects.create(user=user, style="s")
    Job.objects.create(user=user, style="s", status=JobStatus.RENDERING, provider="main")
    ProviderState.objects.create(name="main", breaker_state=BreakerState.HALF_OPEN)
    counters.count_provider_response("main")
    counters.count_provider_response("main", RateLimited(status_code=429))
    counters.count(counters.WEBHOOKS, "refused")
    counters.count(counters.JOBS_FINISHED, "succeeded", 3)
    counters.observe("end_to_end", 42.0)
    counters.set_process_gauge(counters.WEBSOCKETS, 5, process="other-host:1")
    for _ in range(2):
        counters.count_request_shed("waited")

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    got = samples(response.content.decode())
    assert got[("surge_jobs", (("status", "queued"),))] == 2
    assert got[("surge_jobs", (("status", "rendering"),))] == 1
    assert got[("surge_queue_depth", ())] == 2
    assert got[("surge_queue_oldest_age_seconds", ())] >= 0
    assert got[("surge_provider_limit", (("provider", "main"),))] == 4
    assert got[("surge_provider_in_flight", (("provider", "main"),))] == 1
    assert got[("surge_provider_breaker_state", (("provider", "main"), ("state", "half_open")))] == 1
    assert got[("surge_provider_breaker_state", (("provider", "main"), ("state", "open")))] == 0
    assert got[("surge_provider_responses_total", (("class", "2xx"), ("provider", "main")))] == 1
    assert got[("surge_provider_responses_total", (("class", "429"), ("provider", "main")))] == 1
    assert got[("surge_webhooks_total", (("result", "refused"),))] == 1
    assert got[("surge_jobs_finished_total", (("status", "succeeded"),))] == 3
    assert got[("surge_websockets_open", ())] == 5
    assert got[("surge_stage_duration_seconds_bucket", (("le", "30.0"), ("stage", "end_to_end")))] == 0
    assert got[("surge_stage_duration_seconds_bucket", (("le", "60.0"), ("stage", "end_to_end")))] == 1
    assert got[("surge_stage_duration_seconds_count", (("stage", "end_to_end"),))] == 1
    # Requests the web processes turned away (common/wsgi_threads.py); 0 until the first.
    assert got[("surge_http_requests_shed_total", (("reason", "waited"),))] == 2
    assert got[("surge_http_requests_shed_total", (("reason", "client_left"),))] == 0
    # django-prometheus's request and database metrics ride along.
    assert any(name.startswith("django_http_requests") for name, _ in got)
    assert any(name == "django_db_execute_total" for name, _ in got)


def test_response_classes():
    """Provider outcomes map onto 2xx, 429, 4xx, 5xx and timeout (no HTTP answer)."""
    assert counters.response_class(None) == "2xx"
    assert counters.response_class(RateLimited()) == "429"
    assert counters.response_class(TransientError(status_code=503)) == "5xx"
    assert counters.response_class(TransientError("timed out")) == "timeout"
    assert counters.response_class(PermanentError(status_code=422)) == "4xx"


def test_the_web_servers_count_the_requests_they_do_not_run(client):
    """project/asgi.py hands every request its thread pool does not run to the Redis counters,
    so /metrics and the dashboard count them over every web process and machine."""
    shedder = application.application_mapping["http"].shedder
    left = SimpleNamespace(abandoned=True, queued_at=shedder.clock(), scope={"path": "/"})
    late = SimpleNamespace(abandoned=False, queued_at=shedder.clock() - 3600,
                           scope={"path": "/api/v1/jobs/"})
    assert shedder.refuse(left) is None and shedder.refuse(left) is None  # nothing to answer
    assert shedder.refuse(late)[0]["status"] == 503
    got = samples(client.get("/metrics").content.decode())
    assert got[("surge_http_requests_shed_total", (("reason", "client_left"),))] == 2
    assert got[("surge_http_requests_shed_total", (("reason", "waited"),))] == 1
    assert ops_snapshot()["turned_away"] == {"waited": {"last_5m": 1, "last_60m": 1},
                                             "client_left": {"last_5m": 2, "last_60m": 2}}


def test_counts_from_other_processes_are_included(client, settings):
    """What another process counted (and its open sockets) shows on this process's /metrics;
    a dead process's sockets stop counting when its key lapses."""
    script = textwrap.dedent("""
        import django
        django.setup()
        from jobs.ops import counters
        counters.count(counters.WEBHOOKS, "duplicate", 2)
        counters.count_provider_response("main")
        counters.set_process_gauge(counters.WEBSOCKETS, 3)
    """)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings",
           "REDIS_URL": settings.REDIS_URL, "SURGE_REDIS_PREFIX": settings.REDIS_PREFIX}
    for _ in range(2):  # two processes, each with its own pid
        subprocess.run([sys.executable, "-c", script], cwd=BASE_DIR, env=env, check=True,
                       timeout=120)
    counters.set_process_gauge(counters.WEBSOCKETS, 1)  # this process
    got = samples(client.get("/metrics").content.decode())
    assert got[("surge_webhooks_total", (("result", "duplicate"),))] == 4
    assert got[("surge_provider_responses_total", (("class", "2xx"), ("provider", "main")))] == 2
    assert got[("surge_websockets_open", ())] == 3 + 3 + 1
    ttl = counters.dispatch_redis.client().ttl(counters._key("gauge", counters.WEBSOCKETS,
                                                             counters.process_id()))
    assert 0 < ttl <= counters.GAUGE_TTL_SECONDS


@pytest.mark.parametrize(("overrides", "headers", "remote", "status"), [
    ({"METRICS_TOKEN": "s3cret-token"}, {}, "127.0.0.1", 403),
    ({"METRICS_TOKEN": "s3cret-token"}, {"HTTP_AUTHORIZATION": "Bearer wrong"}, "127.0.0.1", 403),
    ({"METRICS_TOKEN": "s3cret-token"}, {"HTTP_AUTHORIZATION": "Bearer s3cret-token"}, "10.1.1.1",
     200),
    ({"METRICS_ALLOWED_IPS": ["10.0.0.0/8"]}, {}, "10.2.3.4", 200),
    ({"METRICS_ALLOWED_IPS": ["10.0.0.0/8"]}, {}, "192.168.1.1", 403),
    ({"PRODUCTION": True}, {}, "127.0.0.1", 403),
    ({}, {}, "127.0.0.1", 200),
])
def test_metrics_are_guarded(client, settings, overrides, headers, remote, status):
    """A bearer token or an allow-list guards /metrics; production without either refuses."""
    settings.METRICS_TOKEN, settings.METRICS_ALLOWED_IPS, settings.PRODUCTION = "", [], False
    for name, value in overrides.items():
        setattr(settings, name, value)
    response = client.get("/metrics", REMOTE_ADDR=remote, **headers)
    assert response.status_code == status
    if status == 403:
        assert "METRICS_TOKEN" in response.json()["message"]


def test_request_metrics_add_up_over_processes_in_multiprocess_mode(settings, tmp_path):
    """With PROMETHEUS_MULTIPROC_DIR, /metrics counts the requests every web process served."""
    serve = textwrap.dedent("""
        import sys
        import django
        django.setup()
        from django.test import Client
        for _ in range(int(sys.argv[1])):
            Client().get("/healthz")
    """)
    scrape = textwrap.dedent("""
        import django
        django.setup()
        from prometheus_client import generate_latest
        from jobs.ops.metrics import _process_registry
        print(generate_latest(_process_registry()).decode())
    """)
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "project.settings",
           "REDIS_URL": settings.REDIS_URL, "SURGE_REDIS_PREFIX": settings.REDIS_PREFIX,
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for requests in (2, 3):
        subprocess.run([sys.executable, "-c", serve, str(requests)], cwd=BASE_DIR, env=env,
                       check=True, timeout=120)
    text = subprocess.run([sys.executable, "-c", scrape], cwd=BASE_DIR, env=env, check=True,
                          timeout=120, capture_output=True, text=True).stdout
    got = samples(text)
    assert got[("django_http_requests_total_by_method_total", (("method", "GET"),))] == 5
