"""Chaos on the real processes: a worker SIGKILLed, Redis restarted, the provider down for a
while, webhooks dropped, duplicated and reordered — and every job still ends exactly once."""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from jobs.models import TERMINAL_STATUSES, Job, JobStatus
from jobs.services.jobs import job_create
from launcher.embedded import free_port
from project.testing.live_app import LiveApp
from project.testing.services import EmbeddedServices

pytestmark = [pytest.mark.slow, pytest.mark.timeout(400)]
LIMIT = 4


@pytest.fixture
def own_redis():
    """A Redis of this test's own, so restarting it leaves the session's alone."""
    services = EmbeddedServices(data_dir=Path(tempfile.mkdtemp(prefix="surge-chaos-")))
    port = free_port()
    url = services.start_redis(port)
    yield services, port, url
    services.stop()


@pytest.fixture
def chaos_app(own_redis, transactional_db, settings):
    _, _, redis_url = own_redis
    settings.REDIS_URL = redis_url  # our own wake-ups reach the app's dispatcher
    settings.MAX_ACTIVE_JOBS_PER_USER = 1000
    app = LiveApp(full=True, time_scale=0.05, max_concurrency=LIMIT, extra_env={
        "REDIS_URL": redis_url, "RECONCILE_INTERVAL": "1", "POLL_AFTER": "2",
        "BREAKER_COOLDOWN_SECONDS": "1", "KEEP_WARM_IDLE": "3600"})
    app.provider.control(mode="fast", render_seconds=1.5, boot_seconds=0, max_concurrency=LIMIT,
                         webhook_drop=0.3, webhook_duplicate=0.3, webhook_reorder=0.5,
                         reset_counters=True)
    yield app
    app.stop()


def _kill_one_task_worker(app: LiveApp) -> bool:
    cluster = psutil.Process(app.processes["worker"].pid)
    children = cluster.children(recursive=True)
    if not children:
        return False
    os.kill(children[-1].pid, signal.SIGKILL)
    return True


def _restart_redis(services: EmbeddedServices, port: int) -> None:
    for process in services.processes:
        process.kill()
        process.wait()
    services.processes.clear()
    time.sleep(0.5)
    services.start_redis(port)


def test_every_job_ends_exactly_once_through_chaos(chaos_app, own_redis, make_user, make_selfie):
    services, redis_port, _ = own_redis
    users = [make_user() for _ in range(3)]
    jobs = []
    for user in users:
        selfie = make_selfie(user)
        jobs += [job_create(user=user, selfie_id=selfie.id, style="cyberpunk-hero")[0]
                 for _ in range(15)]

    def finished() -> int:
        return Job.objects.filter(status__in=TERMINAL_STATUSES).count()

    deadline = time.monotonic() + 300
    chaos = iter([
        (3, "kill a task worker", lambda: _kill_one_task_worker(chaos_app)),
        (8, "provider outage", lambda: chaos_app.provider.control(outage="503")),
        (12, "provider back", lambda: chaos_app.provider.control(outage="off")),
        (15, "restart Redis", lambda: _restart_redis(services, redis_port)),
        (18, "SIGKILL the whole worker", lambda: chaos_app.kill_group("worker")),
        (19, "start a new worker", chaos_app.start_worker),
    ])
    started = time.monotonic()
    step = next(chaos, None)
    done = []
    while (finished() < len(jobs) or step) and time.monotonic() < deadline:
        if step and time.monotonic() - started >= step[0]:
            step[2]()
            done.append((step[1], finished()))
            step = next(chaos, None)
        time.sleep(0.2)

    assert len(done) == 6
    assert done[-1][1] < len(jobs), f"chaos came too late to matter: {done}"
    counts = {s: Job.objects.filter(status=s).count() for s in JobStatus.values}
    assert counts[JobStatus.SUCCEEDED] == len(jobs), (counts, chaos_app.log("dispatcher"))
    for job in Job.objects.all():
        statuses = list(job.events.order_by("seq").values_list("status", flat=True))
        assert [s for s in statuses if s in TERMINAL_STATUSES] == ["succeeded"]
        seqs = list(job.events.order_by("seq").values_list("seq", flat=True))
        assert seqs == list(range(1, len(seqs) + 1))
    counters = chaos_app.provider.counters()
    assert counters["peak_in_flight"] <= LIMIT
    assert counters["webhooks_dropped"] + counters["webhooks_duplicated"] > 0


@pytest.fixture
def busy_app(transactional_db, settings):
    settings.MAX_ACTIVE_JOBS_PER_USER = 1000
    app = LiveApp(full=True, time_scale=0.05, max_concurrency=5, extra_env={
        "KEEP_WARM_IDLE": "3600"})
    app.provider.control(mode="fast", render_seconds=0.4, boot_seconds=0, max_concurrency=5,
                         reset_counters=True)
    yield app
    app.stop()


def test_two_hundred_jobs_through_a_provider_limited_to_five(busy_app, make_user, make_selfie):
    """Never more than 5 at the provider, no 429, and every one of the 200 jobs succeeds."""
    users = [make_user() for _ in range(4)]
    for user in users:
        selfie = make_selfie(user)
        for _ in range(50):
            job_create(user=user, selfie_id=selfie.id, style="cyberpunk-hero")
    deadline = time.monotonic() + 300
    while Job.objects.exclude(status__in=TERMINAL_STATUSES).exists():
        assert time.monotonic() < deadline, busy_app.log("dispatcher")
        time.sleep(0.5)
    assert Job.objects.filter(status=JobStatus.SUCCEEDED).count() == 200
    counters = busy_app.provider.counters()
    assert counters["submitted"] == 200
    # Never more than the limit; and the limit is used (not one job at a time). Exactly 5 at
    # once depends on timing on a loaded box, so it is not asserted.
    assert 3 <= counters["peak_in_flight"] <= 5
    assert counters["rejected_429"] == 0
