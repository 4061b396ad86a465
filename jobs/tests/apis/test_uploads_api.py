"""POST /api/v1/uploads/ (a presigned S3 POST) then POST /api/v1/selfies/ {upload_id}."""

from __future__ import annotations

import httpx
import pytest

from jobs.models import Selfie, Upload
from jobs.services.images import MAX_BYTES
from jobs.tests.apis.support import assert_error
from jobs.tests.conftest import s3_keys
from jobs.tests.images import SAMPLE_SELFIE

pytestmark = pytest.mark.django_db


def presign(api, content_type="image/jpeg", size=1000):
    return api.post("/api/v1/uploads/", {"content_type": content_type, "size": size},
                    format="json")


def test_direct_upload_round_trip(api, user, django_capture_on_commit_callbacks):
    response = presign(api)
    assert response.status_code == 201, response.json()
    ticket = response.json()
    assert set(ticket) == {"upload_id", "url", "fields", "expires_at"}
    uploaded = httpx.post(ticket["url"], data=ticket["fields"],
                          files={"file": ("a.jpg", SAMPLE_SELFIE)}, timeout=10)
    assert uploaded.status_code < 300, uploaded.text
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/selfies/", {"upload_id": ticket["upload_id"]},
                            format="json")
    assert response.status_code == 201, response.json()
    assert Selfie.objects.get(pk=response.json()["id"]).user == user
    assert not Upload.objects.exists() and s3_keys(ticket["fields"]["key"]) == set()


def test_policy_rejects_too_big_and_wrong_type(api):
    ticket = presign(api, size=MAX_BYTES).json()
    too_big = httpx.post(ticket["url"], data=ticket["fields"],
                         files={"file": ("a.jpg", b"\0" * (MAX_BYTES + 1))}, timeout=20)
    wrong_type = httpx.post(ticket["url"], data={**ticket["fields"], "Content-Type": "text/html"},
                            files={"file": ("a.html", b"<html>")}, timeout=10)
    assert 400 <= too_big.status_code < 500 and 400 <= wrong_type.status_code < 500
    assert s3_keys(ticket["fields"]["key"]) == set()


def test_rejected_direct_upload_leaves_nothing(api, user):
    ticket = presign(api, content_type="image/png").json()
    httpx.post(ticket["url"], data=ticket["fields"], files={"file": ("a.png", b"<html>")},
               timeout=10).raise_for_status()
    before = s3_keys(f"selfies/{user.pk}/")
    body = assert_error(api.post("/api/v1/selfies/", {"upload_id": ticket["upload_id"]},
                                 format="json"), 400)
    assert body["extra"]["image"]
    assert s3_keys(ticket["fields"]["key"]) == set() and not Upload.objects.exists()
    assert s3_keys(f"selfies/{user.pk}/") == before and not Selfie.objects.exists()


@pytest.mark.parametrize(("content_type", "size", "field"), [
    ("image/gif", 10, "content_type"), ("image/jpeg", MAX_BYTES + 1, "size"),
    ("image/jpeg", "many", "size"),
])
def test_bad_declarations_are_400(api, content_type, size, field):
    assert field in assert_error(presign(api, content_type, size), 400)["extra"]


def test_another_users_upload_id_is_400(api, other_api):
    ticket = presign(api).json()
    body = assert_error(other_api.post("/api/v1/selfies/", {"upload_id": ticket["upload_id"]},
                                       format="json"), 400)
    assert "upload_id" in body["extra"]


def test_form_encoded_is_415(api):
    assert_error(api.post("/api/v1/uploads/", {"size": 1}), 415)


@pytest.mark.parametrize("size", ["1000", 1000.0, True])
def test_size_must_be_a_json_integer(api, size):
    assert "size" in assert_error(presign(api, size=size), 400)["extra"]
