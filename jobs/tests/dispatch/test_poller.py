"""poll_job: a provider's answer to a poll moves the job; its errors are read for what they mean."""

from __future__ import annotations

import uuid

import pytest

from accounts.models import User
from jobs.dispatch.poller import poll_job
from jobs.models import Job, JobEvent, JobStatus
from jobs.services.transitions import job_record_created, job_transition
from providers.tests.support import ScriptedServer


@pytest.fixture
def server(settings):
    """The provider "p" (Replicate's protocol) on a scripted local server."""
    server = ScriptedServer()
    settings.PROVIDERS = {"p": {"BACKEND": "providers.backends.local.LocalBackend",
                                "BASE_URL": server.url, "DIALECT": "replicate",
                                "API_KEY": "k", "MAX_CONCURRENCY": 2}}
    yield server
    server.close()


@pytest.fixture
def submitted_job(db, server):
    user = User.objects.create_user(f"{uuid.uuid4().hex[:10]}@example.com", "x-Strong-Pass-99")
    job = Job.objects.create(user=user, style="cyberpunk-hero", last_seq=1)
    job_record_created(job, source="test")
    job_transition(job_id=job.id, status=JobStatus.SUBMITTED, source="test",
                   fields={"provider": "p", "provider_job_id": "pred-1", "attempts": 1})
    return job


def polled(job) -> Job:
    poll_job(job_id=job.id)
    return Job.objects.get(pk=job.id)


def test_progress_from_a_poll_moves_the_job(server, submitted_job):
    server.reply(200, {"id": "pred-1", "status": "processing", "logs": " 40%|####  | 4/10",
                       "created_at": "2026-01-01T00:00:00Z"})
    job = polled(submitted_job)
    assert job.status == JobStatus.RENDERING and job.poll_count == 1
    assert server.last.path == "/replicate/v1/predictions/pred-1"


def test_a_job_the_provider_lost_goes_back_in_line(server, submitted_job):
    """404 for a submission we made: the job is requeued (not failed) and says why."""
    server.reply(404, {"detail": "Not found."})
    job = polled(submitted_job)
    assert (job.status, job.provider, job.provider_job_id) == (JobStatus.QUEUED, "", "")
    assert JobEvent.objects.filter(job=job).last().detail == {"reason": "provider_lost_job"}


@pytest.mark.parametrize("status", [429, 503])
def test_a_busy_or_failing_provider_leaves_the_job_as_it_is(server, submitted_job, status):
    """Rate limited or down: the job waits for the next poll, still at the provider."""
    server.reply(status, {"detail": "try later"}, headers={"Retry-After": "1"})
    job = polled(submitted_job)
    assert (job.status, job.provider_job_id, job.poll_count) == (JobStatus.SUBMITTED, "pred-1", 1)


def test_a_job_no_longer_at_the_provider_is_not_polled(server, submitted_job):
    job_transition(job_id=submitted_job.id, status=JobStatus.CANCELED, source="test")
    job = polled(submitted_job)
    assert job.poll_count == 0 and server.requests == []
