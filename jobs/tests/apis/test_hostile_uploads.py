"""Hostile images through both upload paths: a clean 201 or a 4xx in the error shape, no residue."""

from __future__ import annotations

import io

import httpx
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from jobs.models import Selfie, Upload
from jobs.tests.apis.support import assert_error
from jobs.tests.conftest import s3_keys, s3_read
from jobs.tests.images import hostile_corpus, image_bytes, open_image

pytestmark = pytest.mark.django_db
URL = "/api/v1/selfies/"
CORPUS = hostile_corpus()


def multipart(api, data: bytes, name: str, content_type: str = "image/jpeg"):
    return api.post(URL, {"image": SimpleUploadedFile(name, data, content_type)},
                    format="multipart")


def direct(api, data: bytes, name: str, *, declared_size: int | None = None):
    """Presign, POST the file to S3 as a phone would, then claim the upload."""
    size = max(1, len(data)) if declared_size is None else declared_size
    ticket = api.post("/api/v1/uploads/", {"content_type": "image/png", "size": size},
                      format="json").json()
    httpx.post(ticket["url"], data=ticket["fields"], files={"file": (name, data)}, timeout=30)
    return api.post(URL, {"upload_id": ticket["upload_id"]}, format="json")


@pytest.fixture
def new_keys(user):
    """The S3 keys of this user's selfies and uploads created since the test started."""
    prefixes = (f"selfies/{user.pk}/", f"uploads/{user.pk}/")
    before = set().union(*map(s3_keys, prefixes))  # the bucket outlives each test's database
    return lambda: set().union(*map(s3_keys, prefixes)) - before


def assert_outcome(response, user, expected: int, new_keys) -> None:
    """201: one clean JPEG (and thumbnail) stored; refused: the error shape and nothing kept."""
    if expected == 201:
        assert response.status_code == 201, response.content[:300]
        selfie = Selfie.objects.get(pk=response.json()["id"], user=user)
        stored = s3_read(selfie.image.name)
        image = open_image(stored)
        assert image.format == "JPEG" and image.mode == "RGB" and not image.getexif()
        assert b"<script" not in stored and b"PK\x05\x06" not in stored
        assert new_keys() == {selfie.image.name, selfie.thumbnail.name}
        assert ".." not in selfie.image.name and "passwd" not in selfie.image.name
    else:
        assert_error(response, expected)
        assert not Selfie.objects.exists() and new_keys() == set()
    assert not Upload.objects.exists()


@pytest.mark.parametrize("case", CORPUS)
def test_hostile_multipart_upload(api, user, case, new_keys,
                                  django_capture_on_commit_callbacks):
    data, name, expected = CORPUS[case]
    with django_capture_on_commit_callbacks(execute=True):
        response = multipart(api, data, name)
    assert_outcome(response, user, expected, new_keys)


@pytest.mark.parametrize("case", [name for name in CORPUS if name != "over-10mb"])
def test_hostile_direct_upload(api, user, case, new_keys, django_capture_on_commit_callbacks):
    data, name, expected = CORPUS[case]
    with django_capture_on_commit_callbacks(execute=True):
        response = direct(api, data, name)
    # S3's policy refuses an empty file, so that claim finds nothing uploaded: still a 400.
    assert_outcome(response, user, expected, new_keys)


def test_over_10_mb_direct_upload_is_refused_by_the_policy(api, user, new_keys):
    data = CORPUS["over-10mb"][0]
    assert_error(api.post("/api/v1/uploads/", {"content_type": "image/jpeg", "size": len(data)},
                          format="json"), 400)
    response = direct(api, data, "big.jpg", declared_size=1000)  # lying about the size
    assert_outcome(response, user, 400, new_keys)


def test_claiming_before_uploading_discards_the_slot(api):
    """A claim that finds nothing uploaded is refused and leaves no Upload row behind."""
    ticket = api.post("/api/v1/uploads/", {"content_type": "image/jpeg", "size": 10},
                      format="json").json()
    body = assert_error(api.post(URL, {"upload_id": ticket["upload_id"]}, format="json"), 400)
    assert "upload_id" in body["extra"] and not Upload.objects.exists()


def test_two_image_fields_are_400(api, new_keys):
    """Two files under `image` are ambiguous: refused, not silently one of them."""
    files = [SimpleUploadedFile(f"{n}.jpg", image_bytes("JPEG"), "image/jpeg") for n in "ab"]
    body = assert_error(api.post(URL, {"image": files}, format="multipart"), 400)
    assert "image" in body["extra"] and not Selfie.objects.exists() and new_keys() == set()


@pytest.mark.parametrize("field", ["file", "photo", "image[]", "IMAGE"])
def test_wrong_field_name_is_400(api, new_keys, field):
    file = SimpleUploadedFile("a.jpg", image_bytes("JPEG"), "image/jpeg")
    assert "image" in assert_error(api.post(URL, {field: file}, format="multipart"),
                                   400)["extra"]
    assert not Selfie.objects.exists() and new_keys() == set()


def test_file_and_upload_id_together_are_400(api, new_keys):
    file = io.BytesIO(image_bytes("JPEG"))
    file.name = "a.jpg"
    data = {"image": file, "upload_id": "0b7f4b4e-8a5a-4a40-9d1a-1d2b3c4d5e6f"}
    assert_error(api.post(URL, data, format="multipart"), 400)
    assert not Selfie.objects.exists() and new_keys() == set()


@pytest.mark.parametrize("content_type", ["text/html", "application/x-php", "image/svg+xml",
                                          "application/octet-stream"])
def test_declared_part_type_is_ignored_content_decides(api, content_type):
    assert multipart(api, image_bytes("PNG"), "a.png", content_type).status_code == 201
    assert_error(multipart(api, b"<?php system($_GET[1]); ?>", "a.jpg", content_type), 400)

