"""POST/GET /api/v1/selfies/ and DELETE /api/v1/selfies/{id}/ over HTTP."""

from __future__ import annotations

import io
import uuid

import pytest
from rest_framework.test import APIClient

from jobs.models import Job, JobStatus, Selfie
from jobs.services.images import MAX_BYTES
from jobs.tests.apis.support import assert_error
from jobs.tests.conftest import s3_keys, s3_read
from jobs.tests.images import (
    SAMPLE_SELFIE,
    image_bytes,
    jpeg_with_gps,
    open_image,
    png_header_only,
)

pytestmark = pytest.mark.django_db
URL = "/api/v1/selfies/"


def upload(api, data: bytes, name: str = "me.jpg"):
    file = io.BytesIO(data)
    file.name = name
    return api.post(URL, {"image": file}, format="multipart")


def test_upload_returns_201_with_the_selfie(api, user):
    response = upload(api, SAMPLE_SELFIE)
    assert response.status_code == 201, response.json()
    body = response.json()
    assert set(body) == {"id", "width", "height", "thumbnail_url", "created_at"}
    assert (body["width"], body["height"]) == (512, 512)
    assert body["thumbnail_url"].startswith("http://127.0.0.1:") and "Signature" in \
        body["thumbnail_url"]
    assert Selfie.objects.get(pk=body["id"]).user == user


def test_png_renamed_jpg_is_accepted_by_content(api):
    assert upload(api, image_bytes("PNG"), name="photo.jpg").status_code == 201


def test_gps_is_stripped_from_the_stored_object(api):
    body = upload(api, jpeg_with_gps(orientation=6)).json()
    selfie = Selfie.objects.get(pk=body["id"])
    stored = s3_read(selfie.image.name)
    image = open_image(stored)
    assert not image.getexif() and b"PhoneCo" not in stored and b"Exif" not in stored
    assert (body["width"], body["height"]) == image.size == (300, 400)


@pytest.mark.parametrize(("data", "name", "words"), [
    (b"<!doctype html><title>x</title>", "photo.png", "not a JPEG"),
    (SAMPLE_SELFIE[:3000], "photo.jpg", "damaged"),
    (png_header_only(50_000, 50_000), "bomb.png", "40 megapixels"),
    (image_bytes("GIF"), "anim.gif", "not a JPEG"),
    (image_bytes("PNG", size=(100, 100)), "tiny.png", "at least 256"),
], ids=["html-as-png", "truncated-jpeg", "bomb", "gif", "too-small"])
def test_bad_images_are_400_and_leave_nothing(api, user, data, name, words):
    before = s3_keys(f"selfies/{user.pk}/")
    body = assert_error(upload(api, data, name), 400)
    assert words in body["message"] and body["extra"]["image"]
    assert not Selfie.objects.exists() and s3_keys(f"selfies/{user.pk}/") == before


def test_empty_file_is_400(api):
    assert "image" in assert_error(upload(api, b""), 400)["extra"]


def test_more_than_10_mb_is_413_in_the_error_shape(api):
    assert_error(upload(api, SAMPLE_SELFIE + b"\0" * MAX_BYTES), 413)


def test_neither_file_nor_upload_id_is_400(api):
    assert "image" in assert_error(api.post(URL, {}, format="json"), 400)["extra"]


def test_unsupported_content_type_is_415(api):
    assert_error(api.post(URL, "image=1", content_type="text/plain"), 415)


def test_malformed_json_is_400(api):
    assert_error(api.post(URL, "{not json", content_type="application/json"), 400)


def test_anonymous_is_401():
    assert_error(APIClient().post(URL, {}, format="json"), 401)


def test_put_is_405(api):
    assert_error(api.put(URL, {}, format="json"), 405)


def test_list_shows_only_own_newest_first_with_cursor(api, user, other_user, make_selfie):
    first, second = make_selfie(user), make_selfie(user)
    make_selfie(other_user)
    body = api.get(URL, {"page_size": 1}).json()
    assert [item["id"] for item in body["results"]] == [str(second.id)]
    assert body["next"]
    body = api.get(body["next"]).json()
    assert [item["id"] for item in body["results"]] == [str(first.id)]
    assert body["next"] is None


def test_delete_removes_selfie_and_objects(api, user, selfie,
                                           django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.delete(f"{URL}{selfie.id}/")
    assert response.status_code == 204
    assert not Selfie.objects.exists()
    assert not {selfie.image.name, selfie.thumbnail.name} & s3_keys(f"selfies/{user.pk}/")


@pytest.mark.parametrize("selfie_id", ["not-a-uuid", str(uuid.uuid4())])
def test_delete_unknown_or_malformed_is_404(api, selfie_id):
    assert_error(api.delete(f"{URL}{selfie_id}/"), 404)


def test_delete_another_users_selfie_is_404(other_api, selfie):
    assert_error(other_api.delete(f"{URL}{selfie.id}/"), 404)
    assert Selfie.objects.filter(pk=selfie.pk).exists()


def test_delete_while_a_job_is_active_is_409(api, user, selfie):
    Job.objects.create(user=user, selfie=selfie, style="cyberpunk-hero", status=JobStatus.QUEUED)
    body = assert_error(api.delete(f"{URL}{selfie.id}/"), 409)
    assert body["extra"] == {"active_jobs": 1}
