"""The admin changes job status only through its actions, which call the services."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from datetime import timezone as dt_timezone

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from jobs.models import Job, JobEvent, JobStatus, WebhookInbox
from jobs.services.inbox import webhook_record_refused
from jobs.services.jobs import job_cancel_any, job_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def job(user, selfie):
    return job_create(user=user, selfie_id=selfie.id, style="cyberpunk-hero")[0]


def test_job_pages_render_read_only(admin_client, job):
    assert admin_client.get("/admin/jobs/job/").status_code == 200
    page = admin_client.get(f"/admin/jobs/job/{job.id}/change/")
    assert page.status_code == 200 and b'name="status"' not in page.content
    assert b"In line" in page.content  # the timeline


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


def _at(seconds: float):
    return datetime(2026, 11, 30, 19, 46, 0, tzinfo=dt_timezone.utc) + timedelta(seconds=seconds)


def _with_timeline(job: Job, *steps: tuple[str, float], **fields) -> Job:
    """Give the job events at known times: (status, seconds after creation) after `queued`."""
    Job.objects.filter(pk=job.pk).update(created_at=_at(0), **fields)
    JobEvent.objects.filter(job=job, seq=1).update(at=_at(0))
    for seq, (status, seconds) in enumerate(steps, start=2):
        event = JobEvent.objects.create(job=job, seq=seq, status=status, source="test",
                                        progress=0.5 if status == JobStatus.RENDERING else 0)
        JobEvent.objects.filter(pk=event.pk).update(at=_at(seconds))
    Job.objects.filter(pk=job.pk).update(status=steps[-1][0] if steps else job.status,
                                         last_seq=len(steps) + 1)
    job.refresh_from_db()
    return job


def test_job_list_shows_queue_first_progress_and_total_times(admin_client, job):
    _with_timeline(job, (JobStatus.DISPATCHING, 1.5), (JobStatus.SUBMITTED, 1.75),
                   (JobStatus.RENDERING, 4.25), (JobStatus.SUCCEEDED, 70.0),
                   first_progress_at=_at(4.25), finished_at=_at(70.0))
    page = admin_client.get("/admin/jobs/job/").content.decode()
    assert "1.500 s" in page  # in queue: created → first dispatch
    assert "4.250 s" in page  # to first progress
    assert "1 min 10.0 s" in page  # total
    assert job.user.email in page and "cyberpunk-hero" in page


def test_a_waiting_job_shows_how_long_it_has_waited_so_far(admin_client, job):
    Job.objects.filter(pk=job.pk).update(created_at=timezone.now() - timedelta(seconds=95))
    page = admin_client.get("/admin/jobs/job/").content.decode()
    assert len(re.findall(r"1 min 3\d\.\d s so far", page)) == 2  # in queue, and in total


def test_job_list_makes_the_same_queries_for_any_number_of_jobs(admin_client, user, selfie):
    """No query per row: the timings are annotated and the users joined."""
    def list_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get("/admin/jobs/job/").status_code == 200
        return len(queries)

    def add_jobs(count: int) -> None:
        for _ in range(count):
            other = User.objects.create_user(f"{uuid.uuid4().hex[:8]}@example.com", "x")
            new = Job.objects.create(user=other, selfie=selfie, style="cyberpunk-hero",
                                     last_seq=1, error_code=f"code{uuid.uuid4().hex[:4]}")
            JobEvent.objects.create(job=new, seq=1, status=JobStatus.QUEUED, source="test")
            _with_timeline(new, (JobStatus.DISPATCHING, 1.0), (JobStatus.FAILED, 2.0),
                           finished_at=_at(2.0))

    add_jobs(2)
    few = list_queries()
    add_jobs(8)
    assert list_queries() == few
    assert few <= 15


def test_the_job_page_shows_its_timeline_to_the_millisecond(admin_client, job):
    """The timeline used to say "7:46 p.m." for every event."""
    _with_timeline(job, (JobStatus.DISPATCHING, 1.123), (JobStatus.SUBMITTED, 2.456))
    page = admin_client.get(f"/admin/jobs/job/{job.id}/change/").content.decode()
    assert "2026-11-30 19:46:00.000 UTC" in page
    assert "2026-11-30 19:46:01.123 UTC" in page
    assert "2026-11-30 19:46:02.456 UTC" in page
    assert "1.333 s" in page  # how long dispatching lasted
    assert "Queued: 1.123 s · Dispatching: 1.333 s · Submitted: " in page  # time per status
    assert re.search(r"Submitted: [\d.]+ \w+.* so far</div>", page)  # it still is
    assert "p.m." not in page


def test_the_job_page_shows_the_signed_selfie_and_video(admin_client, job):
    Job.objects.filter(pk=job.pk).update(status=JobStatus.SUCCEEDED, output_key="videos/x.mp4")
    page = admin_client.get(f"/admin/jobs/job/{job.id}/change/").content.decode()
    assert re.search(r'<video class="job-video" src="[^"]*videos/x\.mp4\?[^"]*X-Amz-Signature', page)
    assert re.search(r'<img class="job-selfie" src="[^"]*X-Amz-Signature', page)


def test_retry_from_the_job_page_queues_a_new_job_through_the_service(admin_client, job):
    job_cancel_any(job=job, source="test")
    page = admin_client.get(f"/admin/jobs/job/{job.id}/change/").content.decode()
    action = f"/admin/jobs/job/{job.id}/retry/"
    assert f'action="{action}"' in page and "Cancel job" not in page
    response = admin_client.post(action)
    new = Job.objects.get(retry_of=job)
    assert response.status_code == 302 and response.url == f"/admin/jobs/job/{new.id}/change/"
    assert (new.status, new.user, new.selfie_id) == (JobStatus.QUEUED, job.user, job.selfie_id)
    assert new.events.get().source == "admin"
    assert "Queued again" in admin_client.get(response.url).content.decode()


def test_the_job_page_also_takes_retry_posted_to_itself(admin_client, job):
    job_cancel_any(job=job, source="test")
    response = admin_client.post(f"/admin/jobs/job/{job.id}/change/", {"_retry": "1"})
    assert response.status_code == 302
    assert Job.objects.get(retry_of=job).status == JobStatus.QUEUED


@pytest.mark.parametrize("column", ["8", "-9", "10"])
def test_the_job_list_sorts_by_its_durations(admin_client, job, column):
    _with_timeline(job, (JobStatus.DISPATCHING, 1.5), (JobStatus.FAILED, 2.0),
                   finished_at=_at(2.0))
    page = admin_client.get("/admin/jobs/job/", {"o": column})
    assert page.status_code == 200 and "1.500 s" in page.content.decode()


def test_cancel_from_the_job_page(admin_client, job):
    page = admin_client.get(f"/admin/jobs/job/{job.id}/change/").content.decode()
    action = f"/admin/jobs/job/{job.id}/cancel/"
    assert f'action="{action}"' in page and "retry/" not in page
    assert admin_client.post(action).status_code == 302
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED and job.events.last().source == "admin"


def test_a_refused_retry_says_why_and_changes_nothing(admin_client, job):
    response = admin_client.post(f"/admin/jobs/job/{job.id}/retry/", follow=True)
    assert "Only failed or canceled jobs can be retried." in response.content.decode()
    assert not Job.objects.filter(retry_of=job).exists()


def test_retry_and_cancel_need_a_post(admin_client, job):
    assert admin_client.get(f"/admin/jobs/job/{job.id}/cancel/").status_code == 405
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED


def test_staff_who_may_only_view_jobs_cannot_operate_them(client, job):
    viewer = User.objects.create_user("viewer@example.com", "x-Strong-Pass-99", is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_job"))
    client.force_login(viewer)
    page = client.get(f"/admin/jobs/job/{job.id}/change/").content.decode()
    assert "Cancel job" not in page
    assert client.post(f"/admin/jobs/job/{job.id}/cancel/").status_code == 403
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED


@pytest.mark.parametrize("term", ["email", "id", "provider_job_id"])
def test_jobs_are_found_by_email_id_and_provider_job_id(admin_client, job, other_user, selfie,
                                                         term):
    Job.objects.filter(pk=job.pk).update(provider="local", provider_job_id="pj-4242")
    other = Job.objects.create(user=other_user, selfie=selfie, style="cyberpunk-hero")
    query = {"email": job.user.email, "id": str(job.id), "provider_job_id": "pj-4242"}[term]
    page = admin_client.get("/admin/jobs/job/", {"q": query}).content.decode()
    assert str(job.id) in page and str(other.id) not in page


def test_jobs_filter_by_failure_code(admin_client, job, other_user, selfie):
    failed = Job.objects.create(user=other_user, selfie=selfie, style="cyberpunk-hero",
                                status=JobStatus.FAILED, error_code="nsfw_refused")
    page = admin_client.get("/admin/jobs/job/").content.decode()
    assert "?error_code=nsfw_refused" in page
    page = admin_client.get("/admin/jobs/job/", {"error_code": "nsfw_refused"}).content.decode()
    assert str(failed.id) in page and str(job.id) not in page


def test_the_webhook_inbox_shows_every_delivery(admin_client):
    applied = WebhookInbox.objects.create(
        provider="local", event_id="evt-1", provider_job_id="pj-1", result="applied",
        payload={"id": "pj-1", "status": "processing"}, event={"status": "rendering"})
    duplicate = WebhookInbox.objects.create(
        provider="local", event_id="evt-1", provider_job_id="pj-1", result="duplicate",
        duplicate=True, payload={"id": "pj-1"})
    refused = webhook_record_refused(provider="local", reason="local: bad signature",
                                     body=b'{"id": "pj-2"}')
    page = admin_client.get("/admin/jobs/webhookinbox/").content.decode()
    assert "local: bad signature" in page and "duplicate" in page
    assert f"/admin/jobs/webhookinbox/{refused.pk}/change/" in page
    found = admin_client.get("/admin/jobs/webhookinbox/", {"q": "pj-1"}).content.decode()
    assert f"/webhookinbox/{applied.pk}/change/" in found
    assert f"/webhookinbox/{duplicate.pk}/change/" in found
    assert f"/webhookinbox/{refused.pk}/change/" not in found
    detail = admin_client.get(f"/admin/jobs/webhookinbox/{applied.pk}/change/").content.decode()
    assert '<pre class="json-payload">{\n  &quot;id&quot;: &quot;pj-1&quot;,' in detail


def test_the_webhook_inbox_is_spelt_right(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert "Webhook inboxes" in page and "inboxs" not in page
