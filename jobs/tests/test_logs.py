"""Lines about a job carry its job_id, provider and user_id, whichever path writes them."""

from __future__ import annotations

import io
import json
import logging

import pytest

from common.logs import ContextFilter, JsonFormatter, log_context
from jobs.logs import about_job
from jobs.models import Job
from jobs.services.jobs import job_create

pytestmark = pytest.mark.django_db
log = logging.getLogger("jobs.tests.logs")


@pytest.fixture
def lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter())
    logging.getLogger().addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logging.getLogger().removeHandler(handler)


def logging_hook(*, job, event):
    log.info("hook saw event %s", event.seq)


@pytest.fixture
def job(user, selfie):
    job = job_create(user=user, selfie_id=selfie.id, style="cyberpunk-hero")[0]
    Job.objects.filter(pk=job.pk).update(provider="local", provider_job_id="pj-1")
    return job


def test_a_task_about_a_job_logs_with_its_job_provider_and_user(job, lines,
                                                                django_assert_num_queries):
    @about_job
    def task(job_id, *, nested: bool = False):
        log.warning("working")
        if not nested:
            with django_assert_num_queries(0):  # the context is already there: no query
                task(job_id, nested=True)

    task(str(job.id))
    assert [(line["job_id"], line["provider"], line["user_id"]) for line in lines()] == [
        (str(job.id), "local", str(job.user_id))] * 2


def test_a_cancel_logs_the_provider_it_cancels_at(job, lines):
    @about_job
    def cancel_at_provider(*, job_id, provider, provider_job_id):
        log.warning("cancel failed")

    cancel_at_provider(job_id=job.id, provider="old-one", provider_job_id="x")
    assert lines()[0]["provider"] == "old-one"


def test_the_hooks_after_a_transition_log_about_their_job(settings, user, selfie, lines,
                                                          django_capture_on_commit_callbacks):
    settings.JOB_EVENT_HOOKS = [*settings.JOB_EVENT_HOOKS, f"{__name__}.logging_hook"]
    with log_context(request_id="req-1"), django_capture_on_commit_callbacks(execute=True):
        job = job_create(user=user, selfie_id=selfie.id, style="cyberpunk-hero")[0]
    [line] = [line for line in lines() if line["message"] == "hook saw event 1"]
    assert (line["job_id"], line["user_id"], line["request_id"]) == (
        str(job.id), str(user.id), "req-1")


def test_a_refused_webhook_is_logged_with_its_provider(client, lines, transactional_db):
    assert client.post("/webhooks/local/", "{}", content_type="application/json"
                       ).status_code in (400, 403)
    [line] = [line for line in lines() if line["logger"] == "jobs.webhooks"]
    assert line["provider"] == "local" and "refused" in line["message"]
