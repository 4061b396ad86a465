"""Selfie writes keep S3 and the database together, against the real bucket and database."""

from __future__ import annotations

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from common.exceptions import ApplicationError
from jobs.models import Job, JobStatus, Selfie, Upload
from jobs.services.images import MAX_BYTES
from jobs.services.selfies import (
    UPLOAD_TTL,
    selfie_create_from_upload,
    selfie_create_from_upload_file,
    selfie_delete,
    upload_create,
    upload_purge_expired,
)
from jobs.tests.conftest import s3_keys, s3_read
from jobs.tests.images import SAMPLE_SELFIE, image_bytes, jpeg_with_gps, open_image

pytestmark = pytest.mark.django_db


def post_to_s3(ticket, data: bytes, content_type: str | None = None) -> httpx.Response:
    fields = dict(ticket.fields)
    if content_type:
        fields["Content-Type"] = content_type
    return httpx.post(ticket.url, data=fields, files={"file": ("x", data)}, timeout=10)


def test_selfie_from_file_stores_clean_image_and_thumbnail(user):
    before = s3_keys(f"selfies/{user.pk}/")
    selfie = selfie_create_from_upload_file(
        user=user, file=SimpleUploadedFile("me.jpg", jpeg_with_gps(), "image/jpeg"))
    assert Selfie.objects.get(pk=selfie.pk).user == user
    assert s3_keys(f"selfies/{user.pk}/") - before == {selfie.image.name, selfie.thumbnail.name}
    stored = s3_read(selfie.image.name)
    assert not open_image(stored).getexif() and b"PhoneCo" not in stored


def test_a_rejected_file_leaves_nothing(user):
    before = s3_keys(f"selfies/{user.pk}/")
    with pytest.raises(ApplicationError):
        selfie_create_from_upload_file(
            user=user, file=SimpleUploadedFile("me.png", b"<html></html>", "image/png"))
    assert not Selfie.objects.exists() and s3_keys(f"selfies/{user.pk}/") == before


def test_objects_are_deleted_when_the_insert_fails(user, monkeypatch):
    before = s3_keys(f"selfies/{user.pk}/")

    def broken_create(**kwargs):
        raise RuntimeError("database went away")
    monkeypatch.setattr(Selfie.objects, "create", broken_create)
    with pytest.raises(RuntimeError):
        selfie_create_from_upload_file(
            user=user, file=SimpleUploadedFile("me.jpg", SAMPLE_SELFIE, "image/jpeg"))
    assert s3_keys(f"selfies/{user.pk}/") == before


def test_presigned_post_uploads_to_s3_and_becomes_a_selfie(user,
                                                         django_capture_on_commit_callbacks):
    ticket = upload_create(user=user, content_type="image/png", size=5000)
    assert ticket.url.startswith("http://127.0.0.1:")
    response = post_to_s3(ticket, image_bytes("PNG"))
    assert response.status_code in (200, 201, 204), response.text
    with django_capture_on_commit_callbacks(execute=True):
        selfie = selfie_create_from_upload(user=user, upload_id=ticket.upload.id)
    assert (selfie.width, selfie.height) == (512, 512)
    assert not Upload.objects.exists()
    assert s3_keys(ticket.upload.key) == set()  # the raw upload is gone once claimed
    with pytest.raises(ApplicationError):  # and cannot be claimed twice
        selfie_create_from_upload(user=user, upload_id=ticket.upload.id)


def test_policy_refuses_a_file_over_10_mb(user):
    ticket = upload_create(user=user, content_type="image/jpeg", size=MAX_BYTES)
    response = post_to_s3(ticket, b"\xff" * (MAX_BYTES + 1))
    assert 400 <= response.status_code < 500
    assert s3_keys(ticket.upload.key) == set()


def test_policy_refuses_another_content_type(user):
    ticket = upload_create(user=user, content_type="image/jpeg", size=100)
    response = post_to_s3(ticket, SAMPLE_SELFIE, content_type="text/html")
    assert 400 <= response.status_code < 500
    assert s3_keys(ticket.upload.key) == set()


def test_a_rejected_direct_upload_is_deleted_everywhere(user):
    ticket = upload_create(user=user, content_type="image/png", size=100)
    assert post_to_s3(ticket, b"<html>not a png</html>").status_code < 300
    assert s3_keys(ticket.upload.key) == {ticket.upload.key}
    before = s3_keys(f"selfies/{user.pk}/")
    with pytest.raises(ApplicationError) as caught:
        selfie_create_from_upload(user=user, upload_id=ticket.upload.id)
    assert caught.value.extra == {"image": ["This is not a JPEG, PNG or WebP image."]}
    assert s3_keys(ticket.upload.key) == set() and not Upload.objects.exists()
    assert s3_keys(f"selfies/{user.pk}/") == before and not Selfie.objects.exists()


def test_claiming_before_uploading_discards_the_slot(user):
    """A refused claim leaves no row behind, even when nothing was uploaded."""
    ticket = upload_create(user=user, content_type="image/jpeg", size=100)
    with pytest.raises(ApplicationError, match="Nothing was uploaded"):
        selfie_create_from_upload(user=user, upload_id=ticket.upload.id)
    assert not Upload.objects.exists()


def test_purge_deletes_upload_objects_older_than_a_slot(user):
    """An object a client POSTed after its slot was claimed or refused has no row: swept."""
    ticket = upload_create(user=user, content_type="image/jpeg", size=100)
    Upload.objects.all().delete()
    assert post_to_s3(ticket, SAMPLE_SELFIE).status_code < 300
    upload_purge_expired(now=timezone.now())
    assert s3_keys(ticket.upload.key) == {ticket.upload.key}  # still young: may be claimed
    upload_purge_expired(now=timezone.now() + UPLOAD_TTL * 2)
    assert s3_keys(ticket.upload.key) == set()


def test_another_users_upload_is_unknown(user, other_user):
    ticket = upload_create(user=user, content_type="image/jpeg", size=100)
    with pytest.raises(ApplicationError, match="No upload"):
        selfie_create_from_upload(user=other_user, upload_id=ticket.upload.id)


@pytest.mark.parametrize(("content_type", "size"), [("image/gif", 10), ("image/jpeg", 0),
                                                    ("image/jpeg", MAX_BYTES + 1)])
def test_upload_create_refuses_bad_declarations(user, content_type, size):
    with pytest.raises(ApplicationError):
        upload_create(user=user, content_type=content_type, size=size)


def test_selfie_delete_removes_objects_on_commit(user, selfie, django_capture_on_commit_callbacks):
    names = {selfie.image.name, selfie.thumbnail.name}
    with django_capture_on_commit_callbacks(execute=True):
        selfie_delete(user=user, selfie_id=selfie.id)
    assert not Selfie.objects.exists()
    assert not names & s3_keys(f"selfies/{user.pk}/")


def test_selfie_delete_is_refused_while_a_job_uses_it(user, selfie):
    Job.objects.create(user=user, selfie=selfie, style="cyberpunk-hero", status=JobStatus.QUEUED)
    with pytest.raises(ApplicationError) as caught:
        selfie_delete(user=user, selfie_id=selfie.id)
    assert caught.value.status_code == 409
    assert Selfie.objects.filter(pk=selfie.pk).exists()


def test_selfie_delete_keeps_finished_jobs(user, selfie, django_capture_on_commit_callbacks):
    job = Job.objects.create(user=user, selfie=selfie, style="cyberpunk-hero",
                             status=JobStatus.SUCCEEDED)
    with django_capture_on_commit_callbacks(execute=True):
        selfie_delete(user=user, selfie_id=selfie.id)
    job.refresh_from_db()
    assert job.selfie is None
