"""The operations dashboard: its figures against a known set of jobs, its access, its query plans."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from jobs.models import BreakerState, Job, JobStatus, ProviderState
from jobs.ops import counters
from jobs.ops.selectors import ops_snapshot, percentile

pytestmark = pytest.mark.django_db
NOW = timezone.now().replace(microsecond=0)


@pytest.fixture
def two_providers(settings):
    base = {"BACKEND": "providers.backends.local.LocalBackend", "BASE_URL": "http://127.0.0.1:9"}
    settings.PROVIDERS = {"main": {**base, "MAX_CONCURRENCY": 5, "PRIORITY": 10},
                          "spare": {**base, "MAX_CONCURRENCY": 3, "PRIORITY": 20}}


def make_job(user, *, status, created_ago, provider="", error_code="", dispatched_after=None,
             accepted_after=None, progress_after=None, finished_after=None) -> Job:
    """A job whose times are `created_ago` seconds before NOW, then offsets from creation."""
    job = Job.objects.create(user=user, style="s", status=status, provider=provider,
                             error_code=error_code)
    created = NOW - timedelta(seconds=created_ago)

    def at(offset):
        return None if offset is None else created + timedelta(seconds=offset)
    Job.objects.filter(pk=job.pk).update(
        created_at=created, dispatched_at=at(dispatched_after), accepted_at=at(accepted_after),
        first_progress_at=at(progress_after), finished_at=at(finished_after))
    return job


@pytest.fixture
def known_jobs(two_providers):
    """3 queued (oldest 300 s), 2 at main, 4 succeeded and 3 failed in the last hour, and
    jobs older than the window that must not count."""
    user = User.objects.create_user(f"{uuid.uuid4().hex[:8]}@example.com", "x-Strong-Pass-99")
    for ago in (300, 120, 10):
        make_job(user, status=JobStatus.QUEUED, created_ago=ago)
    make_job(user, status=JobStatus.RENDERING, created_ago=50, provider="main",
             dispatched_after=1, accepted_after=2, progress_after=5)
    make_job(user, status=JobStatus.SUBMITTED, created_ago=40, provider="main",
             dispatched_after=1, accepted_after=2)
    # Succeeded 10 minutes ago: queue 2/4/6/8 s, first progress 10/20/30/40 s, total 60..240 s.
    for i in range(1, 5):
        make_job(user, status=JobStatus.SUCCEEDED, created_ago=600 + 60 * i, provider="main",
                 dispatched_after=2 * i, accepted_after=2 * i + 1, progress_after=10 * i,
                 finished_after=60 * i)
    for code in ("rejected", "rejected", "timeout"):
        make_job(user, status=JobStatus.FAILED, created_ago=900, provider="spare",
                 error_code=code, dispatched_after=1, finished_after=30)
    # Two hours old: outside every last-hour figure.
    make_job(user, status=JobStatus.SUCCEEDED, created_ago=7300, provider="main",
             dispatched_after=1, finished_after=100)
    make_job(user, status=JobStatus.FAILED, created_ago=7300, error_code="old",
             finished_after=10)
    ProviderState.objects.create(name="spare", breaker_state=BreakerState.OPEN)
    ts = NOW.timestamp()
    for _ in range(2):
        counters.count(counters.PROVIDER_RESPONSES, "main:429", at=ts - 60)  # 1 min ago
    counters.count(counters.PROVIDER_RESPONSES, "main:5xx", at=ts - 20 * 60)  # 20 min ago
    counters.count(counters.PROVIDER_RESPONSES, "spare:timeout", at=ts)
    counters.count(counters.PROVIDER_RESPONSES, "spare:2xx", at=ts)
    # Requests the web processes did not run: 3 a minute ago, 4 half an hour ago, 2 before
    # the hour; one whose client left 10 minutes ago.
    counters.count(counters.REQUESTS_SHED, "waited", 3, at=ts - 60)
    counters.count(counters.REQUESTS_SHED, "waited", 4, at=ts - 30 * 60)
    counters.count(counters.REQUESTS_SHED, "waited", 2, at=ts - 61 * 60)
    counters.count(counters.REQUESTS_SHED, "client_left", 1, at=ts - 10 * 60)


def test_dashboard_figures_match_a_known_set_of_jobs(known_jobs):
    """Every figure on the dashboard is what the known jobs and counters say it is."""
    snapshot = ops_snapshot(now=NOW)
    assert snapshot["queue"] == {"depth": 3, "oldest_age_seconds": 300.0}

    totals = {name: sum(minute[name] for minute in snapshot["throughput"])
              for name in ("submitted", "succeeded", "failed")}
    assert totals == {"submitted": 3 + 2 + 4 + 3, "succeeded": 4, "failed": 3}
    assert len(snapshot["throughput"]) == 60

    providers = {row["name"]: row for row in snapshot["providers"]}
    assert [row["name"] for row in snapshot["providers"]] == ["main", "spare"]
    assert providers["main"]["in_flight"] == 2 and providers["main"]["limit"] == 5
    assert providers["main"]["rate_limited_5m"] == 2
    assert providers["main"]["errors_5m"] == 0 and providers["main"]["errors_60m"] == 1
    assert providers["spare"]["breaker"] == BreakerState.OPEN
    assert providers["spare"]["errors_5m"] == 1 and providers["spare"]["responses_60m"] == 2

    latency = snapshot["latency"]
    assert latency["queue"] == {"p50": 4.0, "p95": 8.0, "n": 4, "what": latency["queue"]["what"]}
    assert (latency["first_progress"]["p50"], latency["first_progress"]["p95"]) == (20.0, 40.0)
    assert (latency["end_to_end"]["p50"], latency["end_to_end"]["p95"]) == (120.0, 240.0)
    assert snapshot["failure_reasons"] == [{"reason": "rejected", "count": 2},
                                           {"reason": "timeout", "count": 1}]
    assert snapshot["turned_away"] == {"waited": {"last_5m": 3, "last_60m": 7},
                                       "client_left": {"last_5m": 0, "last_60m": 1}}


def test_percentile_is_nearest_rank():
    """p50 of 1..4 is 2 and p95 is 4; no values gives None."""
    assert percentile([4, 1, 3, 2], 0.5) == 2 and percentile([4, 1, 3, 2], 0.95) == 4
    assert percentile([], 0.5) is None


def test_the_dashboard_page_and_its_feed_are_for_staff(client, admin_client, known_jobs):
    """Staff see the page and its JSON feed; anyone else is sent to the admin login."""
    for url in ("/admin/ops/", "/admin/ops/data/"):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"]
    page = admin_client.get("/admin/ops/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="ops-queue-depth">3<' in html and 'src="/static/ops/dashboard.js"' in html
    # Requests turned away in the last 5 / 60 minutes, marked while the last 5 had some.
    assert 'id="ops-shed-waited">3 / 7<' in html and 'id="ops-shed-client-left">0 / 1<' in html
    assert re.search(r'class="ops-tile ops-alert" id="ops-shed-waited-tile"', html)
    assert re.search(r'class="ops-tile" id="ops-shed-client-left-tile"', html)
    assert "<script>" not in html  # no inline script: the page works under a strict CSP
    feed = admin_client.get("/admin/ops/data/").json()
    assert feed["queue"]["depth"] == 3
    assert "/admin/ops/" in admin_client.get("/admin/").content.decode()  # linked from the index


def test_every_dashboard_query_on_jobs_uses_an_index(known_jobs):
    """No dashboard query scans the jobs table: each is an index search (fast on 1,000,000 jobs).

    SQLite: every step on jobs_job is a SEARCH. PostgreSQL's planner prefers a scan of a table
    this small whatever the indexes, so scans are priced out (enable_seqscan) and none may stay.
    """
    with CaptureQueriesContext(connection) as queries:
        ops_snapshot(now=NOW)
    plans = {}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
        explain = "EXPLAIN QUERY PLAN " if connection.vendor == "sqlite" else "EXPLAIN "
        for query in queries.captured_queries:
            if '"jobs_job"' not in query["sql"]:
                continue
            cursor.execute(explain + query["sql"])
            plans[query["sql"]] = [row[-1] for row in cursor.fetchall()]
    assert len(plans) >= 6
    for sql, plan in plans.items():
        if connection.vendor == "sqlite":
            on_jobs = [step for step in plan if re.search(r"\bjobs_job\b", step)]
            assert on_jobs and all(step.startswith("SEARCH") for step in on_jobs), (sql, plan)
        else:
            on_jobs = [step for step in plan if re.search(r" on jobs_job\b", step)]
            assert on_jobs and not any("Seq Scan" in step for step in on_jobs), (sql, plan)
