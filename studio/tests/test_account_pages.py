"""The account pages: the overview, My photos, and deleting a video, a photo or the account."""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from accounts.models import User
from jobs import s3
from jobs.dispatch.mirror import output_key
from jobs.models import Job, Selfie
from jobs.services.jobs import job_enqueue
from jobs.services.transitions import job_transition
from jobs.tests.conftest import s3_keys
from notifications.tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(client, user):
    client.force_login(user)
    return client


def succeeded_job(user, selfie) -> Job:
    job = job_enqueue(user=user, selfie=selfie, style="cyberpunk-hero")
    job_transition(job_id=job.id, status="dispatching", source="test")
    key = default_storage.save(output_key(job, 1), ContentFile(b"video"))
    return job_transition(job_id=job.id, status="succeeded", source="test",
                          fields={"output_key": key}).job


def test_the_pages_need_a_sign_in(client, user, make_selfie):
    job, selfie = succeeded_job(user, make_selfie(user)), make_selfie(user)
    for path in ("/app/account/", "/app/photos/", "/app/account/delete/",
                 f"/app/jobs/{job.id}/delete/", f"/app/photos/{selfie.id}/delete/"):
        assert client.get(path).status_code == 302, path
        assert client.post(path).status_code == 302, path
    assert Job.objects.filter(pk=job.id).exists() and Selfie.objects.filter(pk=selfie.id)


def test_the_account_page_links_everything_and_the_header_links_it(browser, user):
    html = browser.get("/app/account/").content.decode()
    assert user.email in html
    for path in ("/accounts/password/change/", "/app/settings/", "/app/photos/",
                 "/app/account/delete/"):
        assert f'href="{path}"' in html, path
    assert 'href="/app/account/"' in browser.get("/app/videos/").content.decode()


def test_deleting_a_video_asks_then_deletes_it_and_its_objects(browser, user, make_selfie,
                                                                django_capture_on_commit_callbacks):
    job = succeeded_job(user, make_selfie(user))
    assert job.output_key in s3_keys(s3.user_prefix(s3.VIDEOS, user.pk))
    assert 'data-delete' in browser.get("/app/videos/").content.decode()
    page = browser.get(f"/app/jobs/{job.id}/delete/")
    assert page.status_code == 200 and b"can't be undone" in page.content
    assert Job.objects.filter(pk=job.id).exists()  # asking deletes nothing
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(f"/app/jobs/{job.id}/delete/")
    assert response.status_code == 302 and response.url == "/app/videos/"
    assert not Job.objects.filter(pk=job.id).exists()
    assert job.output_key and not {key for key in s3_keys(s3.user_prefix(s3.VIDEOS, user.pk))
                                   if str(job.id) in key}
    assert b"Deleted the Cyberpunk hero video." in browser.get("/app/videos/").content


def test_a_running_video_must_be_canceled_first(browser, user, make_selfie):
    job = job_enqueue(user=user, selfie=make_selfie(user), style="cyberpunk-hero")
    page = browser.get(f"/app/jobs/{job.id}/delete/").content.decode()
    assert "Cancel it first" in page and "data-confirm-delete" not in page
    response = browser.post(f"/app/jobs/{job.id}/delete/")
    assert response.status_code == 409 and b"Cancel it first" in response.content
    assert Job.objects.filter(pk=job.id).exists()


def test_another_users_video_or_photo_is_404(browser, other_user, make_selfie):
    selfie = make_selfie(other_user)
    job = succeeded_job(other_user, selfie)
    for path in (f"/app/jobs/{job.id}/delete/", f"/app/photos/{selfie.id}/delete/"):
        assert browser.get(path).status_code == 404
        assert browser.post(path).status_code == 404
    assert Job.objects.filter(pk=job.id).exists() and Selfie.objects.filter(pk=selfie.id)


def test_my_photos_lists_mine_and_deletes_one(browser, user, other_user, make_selfie,
                                              django_capture_on_commit_callbacks):
    mine, theirs = make_selfie(user), make_selfie(other_user)
    assert {mine.image.name, mine.thumbnail.name} <= s3_keys(s3.user_prefix(s3.SELFIES, user.pk))
    html = browser.get("/app/photos/").content.decode()
    assert f"/app/photos/{mine.id}/delete/" in html and str(theirs.id) not in html
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(f"/app/photos/{mine.id}/delete/")
    assert response.status_code == 302 and response.url == "/app/photos/"
    assert not Selfie.objects.filter(pk=mine.id).exists()
    assert not {mine.image.name, mine.thumbnail.name} & s3_keys(s3.user_prefix(s3.SELFIES,
                                                                                user.pk))
    assert b"No photos yet." in browser.get("/app/photos/").content


def test_a_photo_in_use_is_409_with_the_reason(browser, user, make_selfie):
    selfie = make_selfie(user)
    job_enqueue(user=user, selfie=selfie, style="cyberpunk-hero")
    response = browser.post(f"/app/photos/{selfie.id}/delete/")
    assert response.status_code == 409 and b"used by a video in progress" in response.content
    assert Selfie.objects.filter(pk=selfie.id).exists()


def test_a_wrong_password_keeps_the_account(browser, user):
    response = browser.post("/app/account/delete/", {"password": "not-it"})
    assert response.status_code == 400 and b"The password is incorrect." in response.content
    assert User.objects.filter(pk=user.pk).exists()
    assert browser.get("/app/").status_code == 200


def test_deleting_the_account_signs_out_and_empties_storage(browser, user, make_selfie,
                                                           django_capture_on_commit_callbacks):
    succeeded_job(user, make_selfie(user))
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post("/app/account/delete/", {"password": PASSWORD})
    assert response.status_code == 302 and response.url == "/"
    assert not User.objects.filter(pk=user.pk).exists()
    assert not any(s3_keys(s3.user_prefix(kind, user.pk)) for kind in s3.USER_PREFIXES)
    assert browser.get("/app/").status_code == 302  # signed out
    assert b"Your account and everything in it were deleted." in browser.get("/").content
