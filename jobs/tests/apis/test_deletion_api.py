"""DELETE /api/v1/jobs/{id}/ and DELETE /api/v1/me/ against the real S3: the objects are gone."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.core import mail
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from knox.models import AuthToken

from accounts.models import User
from accounts.services import token_issue
from jobs import s3
from jobs.dispatch.mirror import output_key
from jobs.models import Job, JobEvent, JobStatus, Selfie, Upload
from jobs.services.jobs import job_enqueue
from jobs.services.selfies import upload_create
from jobs.services.transitions import job_transition
from jobs.tests.apis.support import assert_error
from jobs.tests.conftest import s3_keys
from notifications.models import Notification

pytestmark = pytest.mark.django_db
PASSWORD = "x-Strong-Pass-99"  # jobs/tests/conftest.py's users


def finished_job(user, selfie, status=JobStatus.SUCCEEDED) -> Job:
    """A job that ran to `status`; a succeeded one has its video (and a stale copy) in S3."""
    job = job_enqueue(user=user, selfie=selfie, style="cyberpunk-hero")
    job_transition(job_id=job.id, status=JobStatus.DISPATCHING, source="test")
    fields = {}
    if status == JobStatus.SUCCEEDED:
        default_storage.save(output_key(job, 1), ContentFile(b"an earlier copy"))
        fields["output_key"] = default_storage.save(output_key(job, 2), ContentFile(b"video"))
    job_transition(job_id=job.id, status=status, source="test", fields=fields)
    return Job.objects.get(pk=job.id)


def videos_of(user) -> set[str]:
    return s3_keys(s3.user_prefix(s3.VIDEOS, user.pk))


@pytest.mark.parametrize("status", [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED])
def test_deleting_a_finished_job_removes_its_rows_and_objects(
        api, user, selfie, status, django_capture_on_commit_callbacks):
    job = finished_job(user, selfie, status)
    keeper = finished_job(user, selfie)
    Notification.objects.create(user=user, job=job, kind="job_succeeded", title="Ready")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(f"/api/v1/jobs/{job.id}/")
    assert response.status_code == 204, response.content
    assert not Job.objects.filter(pk=job.id).exists()
    assert not JobEvent.objects.filter(job_id=job.id).exists()
    assert not Notification.objects.filter(job_id=job.id).exists()
    assert not {key for key in videos_of(user) if str(job.id) in key}
    assert keeper.output_key in videos_of(user)  # the other video stays
    assert Selfie.objects.filter(pk=selfie.pk).exists()
    assert_error(api.get(f"/api/v1/jobs/{job.id}/"), 404)


@pytest.mark.parametrize("status", [JobStatus.QUEUED, JobStatus.RENDERING, JobStatus.SAVING])
def test_a_running_job_is_409_and_stays(api, user, selfie, status):
    job = job_enqueue(user=user, selfie=selfie, style="cyberpunk-hero")
    if status != JobStatus.QUEUED:
        job_transition(job_id=job.id, status=JobStatus.DISPATCHING, source="test")
        job_transition(job_id=job.id, status=status, source="test")
    body = assert_error(api.delete(f"/api/v1/jobs/{job.id}/"), 409)
    assert "Cancel it first" in body["message"] and body["extra"]["status"] == status
    assert Job.objects.filter(pk=job.id).exists()


def test_another_users_or_a_malformed_job_is_404(api, other_api, user, selfie):
    job = finished_job(user, selfie)
    assert_error(other_api.delete(f"/api/v1/jobs/{job.id}/"), 404)
    assert_error(other_api.delete("/api/v1/jobs/not-a-uuid/"), 404)
    assert Job.objects.filter(pk=job.id).exists() and job.output_key in videos_of(user)


def test_a_selfie_in_use_by_a_running_job_is_409(api, user, selfie):
    job_enqueue(user=user, selfie=selfie, style="cyberpunk-hero")
    assert_error(api.delete(f"/api/v1/selfies/{selfie.id}/"), 409)


def token_client(token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {token}")


def delete_me(client: Client, body: dict):
    return client.delete("/api/v1/me/", body, content_type="application/json")


def test_deleting_the_account_removes_every_object_and_row(
        user, other_user, selfie, make_selfie, django_capture_on_commit_callbacks):
    """Running jobs are canceled, then every S3 object and row of the user goes; the other
    user's keep theirs; every token stops working; a confirmation email goes out."""
    done = finished_job(user, selfie)
    running = job_enqueue(user=user, selfie=make_selfie(user), style="cyberpunk-hero")
    ticket = upload_create(user=user, content_type="image/jpeg", size=10)
    s3.client().put_object(Bucket=s3.bucket(), Key=ticket.upload.key, Body=b"raw upload")
    Notification.objects.create(user=user, job=done, kind="job_succeeded", title="Ready")
    theirs = finished_job(other_user, make_selfie(other_user))
    phone, tablet = token_issue(user=user), token_issue(user=user)
    prefixes = [s3.user_prefix(kind, user.pk) for kind in s3.USER_PREFIXES]
    assert all(s3_keys(prefix) for prefix in prefixes)

    with django_capture_on_commit_callbacks(execute=True):
        response = delete_me(token_client(phone), {"password": PASSWORD})
    assert response.status_code == 204, response.content

    assert not any(s3_keys(prefix) for prefix in prefixes)
    assert not User.objects.filter(pk=user.pk).exists()
    for model in (Job, Selfie, Upload, Notification, AuthToken):
        assert not model.objects.filter(user_id=user.pk).exists(), model
    assert not JobEvent.objects.filter(job_id__in=[done.id, running.id]).exists()
    assert theirs.output_key in videos_of(other_user)
    assert Selfie.objects.filter(user=other_user).exists()
    for token in (phone, tablet):
        assert_error(token_client(token).get("/api/v1/me/"), 401)

    (email,) = mail.outbox
    assert email.to == [user.email] and "deleted" in email.subject
    html, kind = email.alternatives[0]
    assert kind == "text/html" and user.email in html and user.email in email.body
    assert f"{settings.PUBLIC_BASE_URL}/accounts/signup/" in email.body
    assert f"{settings.PUBLIC_BASE_URL}/accounts/signup/" in html


def test_running_jobs_are_canceled_before_the_account_goes(
        user, selfie, django_capture_on_commit_callbacks, monkeypatch):
    """The provider is told to stop a job it is rendering (its slot and our bill)."""
    job = job_enqueue(user=user, selfie=selfie, style="cyberpunk-hero")
    job_transition(job_id=job.id, status=JobStatus.DISPATCHING, source="test")
    job_transition(job_id=job.id, status=JobStatus.RENDERING, source="test",
                   fields={"provider": "local", "provider_job_id": "p-1"})
    canceled = []
    monkeypatch.setattr("jobs.services.jobs.request_provider_cancel",
                        lambda **kwargs: canceled.append(kwargs))
    with django_capture_on_commit_callbacks(execute=True):
        response = delete_me(token_client(token_issue(user=user)), {"password": PASSWORD})
    assert response.status_code == 204
    assert canceled == [{"job_id": job.id, "provider": "local", "provider_job_id": "p-1"}]


@pytest.mark.parametrize("body", [{"password": "wrong-password"}, {"password": ""}, {}],
                         ids=["wrong", "empty", "missing"])
def test_a_wrong_or_missing_password_is_400_and_deletes_nothing(user, selfie, body):
    token = token_issue(user=user)
    answer = assert_error(delete_me(token_client(token), body), 400)
    assert "password" in answer["extra"]
    assert User.objects.filter(pk=user.pk).exists() and Selfie.objects.filter(pk=selfie.pk)
    assert s3_keys(s3.user_prefix(s3.SELFIES, user.pk))
    assert token_client(token).get("/api/v1/me/").status_code == 200
    assert not mail.outbox


def test_wrong_passwords_are_rate_limited(user, settings):
    settings.LOGIN_FAILURE_LIMIT = 2
    client = token_client(token_issue(user=user))
    for _ in range(2):
        assert_error(delete_me(client, {"password": "wrong"}), 400)
    response = delete_me(client, {"password": PASSWORD})
    assert_error(response, 429)
    assert User.objects.filter(pk=user.pk).exists()


def test_deleting_the_account_needs_a_sign_in():
    assert_error(delete_me(Client(), {"password": PASSWORD}), 401)
