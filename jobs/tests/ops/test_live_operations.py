"""On the real processes (two web, a worker, a dispatcher, the local provider): the admin's
pause and resume act on the running dispatcher, and /metrics says the same from either web
process."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest

from accounts.models import User
from jobs.models import Job, JobStatus, ProviderState
from jobs.services.jobs import job_create
from jobs.tests.ops.test_metrics import samples
from project.testing.live_app import LiveApp

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
JOBS = 3


@pytest.fixture
def live_app(transactional_db, settings):
    settings.MAX_ACTIVE_JOBS_PER_USER = 100
    app = LiveApp(full=True, time_scale=0.05, max_concurrency=2, extra_env={
        "WEB_PROCESSES": "2", "RECONCILE_INTERVAL": "1", "KEEP_WARM_IDLE": "3600"})
    app.provider.control(mode="fast", render_seconds=0.2, boot_seconds=0, max_concurrency=2,
                         reset_counters=True)
    yield app
    app.stop()


def wait_for(condition, *, timeout: float, message):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, message()
        time.sleep(0.2)


def test_pause_resume_and_metrics_across_processes(live_app, admin_client, make_selfie):
    """Paused in the admin, the running dispatcher sends nothing; resumed, every job
    succeeds; then both web processes report the same job, provider and stage figures."""
    state, _ = ProviderState.objects.get_or_create(name="local")
    response = admin_client.post("/admin/jobs/providerstate/", {
        "action": "pause", "_selected_action": [state.pk]})
    assert response.status_code == 302
    user = User.objects.create_user(f"{uuid.uuid4().hex[:8]}@example.com", "x-Strong-Pass-99")
    selfie = make_selfie(user)
    for _ in range(JOBS):
        job_create(user=user, selfie_id=selfie.id, style="cyberpunk-hero")
    # Nothing to wait for but time: a few of the dispatcher's passes (1 s apart) and wake-ups.
    time.sleep(3)
    assert Job.objects.filter(status=JobStatus.QUEUED).count() == JOBS
    assert live_app.provider.counters()["submitted"] == 0

    admin_client.post("/admin/jobs/providerstate/", {
        "action": "resume", "_selected_action": [state.pk]})
    wait_for(lambda: Job.objects.filter(status=JobStatus.SUCCEEDED).count() == JOBS,
             timeout=120, message=lambda: live_app.log("dispatcher"))

    # The two web processes share the port (the kernel picks one per connection): scrape
    # until both have answered (seen in practice), or twenty times.
    started, scraped = set(), []
    while len(started) < 2 and len(scraped) < 20:
        got = samples(httpx.get(f"{live_app.url}/metrics", timeout=10).text)
        started.add(got[("process_start_time_seconds", ())])
        scraped.append(got)
    for got in scraped:
        assert got[("surge_jobs_finished_total", (("status", "succeeded"),))] == JOBS
        assert got[("surge_provider_responses_total", (("class", "2xx"), ("provider", "local")))] >= JOBS
        assert got[("surge_queue_depth", ())] == 0
        assert got[("surge_stage_duration_seconds_count", (("stage", "end_to_end"),))] == JOBS
        assert got[("surge_provider_limit", (("provider", "local"),))] == 2
