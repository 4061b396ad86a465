"""Fixtures for engine tests: the real local provider over HTTP, real Redis, S3 and database."""

from __future__ import annotations

import time
import uuid

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from accounts.models import User
from jobs.dispatch.reconciler import reconcile_once
from jobs.models import TERMINAL_STATUSES, Job, ProviderState, Selfie
from jobs.services.jobs import job_create
from launcher.embedded import BASE_DIR, DEV_PROVIDER_WEBHOOK_SECRET
from project.testing.local_provider import LocalProviderProcess

SAMPLE = (BASE_DIR / "static" / "samples" / "selfie-astronaut.jpg").read_bytes()
DEFAULT_KNOBS = {
    "max_concurrency": 10, "over_limit": "reject", "failure_rate": 0.0, "outage": "off",
    "webhook_drop": 0.0, "webhook_duplicate": 0.0, "webhook_reorder": 0.0,
    "webhook_delay_seconds": 0.0, "output_ttl_seconds": 3600, "mode": "fast",
    "render_seconds": 0.05, "boot_seconds": 0.0, "submit_answer_delay_seconds": 0.0,
}


@pytest.fixture(scope="module")
def provider_process():
    process = LocalProviderProcess(time_scale=0.02)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def fallback_process():
    process = LocalProviderProcess(time_scale=0.02, seed=2)
    yield process
    process.stop()


@pytest.fixture
def provider(provider_process):
    provider_process.control(**DEFAULT_KNOBS, reset_counters=True)
    return provider_process


@pytest.fixture
def engine(settings, provider, transactional_db):
    """Engine settings for one provider "primary" (polled; webhooks off unless a test says)."""
    settings.PROVIDERS = {"primary": provider.provider_config(webhooks=False)}
    settings.TASKS_RUN_INLINE = True
    settings.POLL_AFTER = 0.1
    settings.BREAKER_FAILURE_THRESHOLD = 3
    settings.BREAKER_COOLDOWN_SECONDS = 0.5
    settings.KEEP_WARM_IDLE = 3600
    ProviderState.objects.all().delete()
    return settings


@pytest.fixture
def make_user(transactional_db):
    def make(email=None):
        return User.objects.create_user(email or f"{uuid.uuid4().hex[:8]}@example.com",
                                        "x-Strong-Pass-99")
    return make


@pytest.fixture
def make_selfie():
    created = []

    def make(user):
        name = default_storage.save(f"selfies/{user.id}/{uuid.uuid4().hex}.jpg",
                                    ContentFile(SAMPLE))
        selfie = Selfie.objects.create(user=user, image=name, thumbnail=name, width=512,
                                       height=512)
        created.append(name)
        return selfie

    yield make
    for name in created:
        default_storage.delete(name)


@pytest.fixture
def make_jobs(make_selfie, settings):
    settings.MAX_ACTIVE_JOBS_PER_USER = 10_000

    def make(user, count=1):
        selfie = make_selfie(user)
        return [job_create(user=user, selfie_id=selfie.id, style="cyberpunk-hero")[0]
                for _ in range(count)]
    return make


def drive(until, *, timeout=60.0, step=0.02):
    """Run reconciler passes until `until()` is true; fail loudly on timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reconcile_once()
        if until():
            return
        time.sleep(step)
    counts = {s: Job.objects.filter(status=s).count() for s in Job.objects.values_list(
        "status", flat=True).distinct()}
    stuck = [(job.id, job.status, job.provider, job.attempts, job.not_before, job.lease_until,
              list(job.events.values_list("status", "detail")))
             for job in Job.objects.exclude(status__in=TERMINAL_STATUSES)[:3]]
    raise AssertionError(f"timed out; jobs by status: {counts}; stuck: {stuck}")


def all_finished(jobs=None):
    queryset = Job.objects.all() if jobs is None else Job.objects.filter(
        pk__in=[job.id for job in jobs])
    return lambda: not queryset.exclude(status__in=TERMINAL_STATUSES).exists()


@pytest.fixture
def replicate_settings(settings):
    """One provider, "primary", speaking Replicate's dialect with the development secret."""
    settings.PROVIDERS = {"primary": {
        "BACKEND": "providers.backends.replicate.ReplicateBackend",
        "BASE_URL": "http://127.0.0.1:9", "API_KEY": "k", "MODEL": "a/b",
        "WEBHOOK_SECRET": DEV_PROVIDER_WEBHOOK_SECRET}}
    return settings
