"""The admin changes job status only through its actions, which call the services."""

from __future__ import annotations

import pytest

from jobs.models import Job, JobStatus
from jobs.services.jobs import job_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(user, selfie):
    return job_create(user=user, selfie_id=selfie.id, style="cyberpunk-hero")[0]


def test_job_pages_render_read_only(admin_client, job):
    assert admin_client.get("/admin/jobs/job/").status_code == 200
    page = admin_client.get(f"/admin/jobs/job/{job.id}/change/")
    assert page.status_code == 200 and b'name="status"' not in page.content
    assert b"In line" in page.content  # the event inline


def test_cancel_action_uses_the_service(admin_client, job):
    response = admin_client.post("/admin/jobs/job/", {"action": "cancel_jobs",
                                                      "_selected_action": [job.id]})
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED
    assert job.events.last().source == "admin"


def test_retry_action_queues_a_new_job(admin_client, job):
    admin_client.post("/admin/jobs/job/", {"action": "cancel_jobs", "_selected_action": [job.id]})
    admin_client.post("/admin/jobs/job/", {"action": "retry_jobs", "_selected_action": [job.id]})
    assert Job.objects.get(retry_of=job).status == JobStatus.QUEUED


def test_selfie_list_shows_a_signed_thumbnail(admin_client, selfie):
    page = admin_client.get("/admin/jobs/selfie/")
    assert page.status_code == 200 and b"X-Amz-Signature" in page.content


@pytest.mark.parametrize("model", ["idempotencykey", "webhookinbox"])
def test_read_only_lists_render(admin_client, model):
    assert admin_client.get(f"/admin/jobs/{model}/").status_code == 200
    assert admin_client.get(f"/admin/jobs/{model}/add/").status_code == 403
