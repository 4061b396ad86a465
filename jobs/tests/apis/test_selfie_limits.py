"""Per-user storage limits: selfie uploads per window, and selfies (with open slots) kept."""

from __future__ import annotations

import io

import httpx
import pytest

from jobs.models import Selfie
from jobs.tests.apis.support import assert_error
from jobs.tests.images import SAMPLE_SELFIE

pytestmark = pytest.mark.django_db


def upload(api):
    file = io.BytesIO(SAMPLE_SELFIE)
    file.name = "me.jpg"
    return api.post("/api/v1/selfies/", {"image": file}, format="multipart")


def presign(api):
    return api.post("/api/v1/uploads/", {"content_type": "image/jpeg",
                                         "size": len(SAMPLE_SELFIE)}, format="json")


def test_the_defaults_are_documented(settings):
    assert (settings.SELFIE_UPLOAD_LIMIT, settings.SELFIE_UPLOAD_WINDOW_SECONDS) == (20, 600)
    assert settings.MAX_SELFIES_PER_USER == 200


def test_uploads_per_window_are_limited_across_both_ways_in(api, other_api, settings):
    """Multipart selfies and upload slots draw on one budget per user; then 429 + Retry-After."""
    settings.SELFIE_UPLOAD_LIMIT = 3
    assert upload(api).status_code == 201
    assert presign(api).status_code == 201
    assert upload(api).status_code == 201
    for refused in (presign(api), upload(api)):
        body = assert_error(refused, 429)
        retry_after = int(refused["Retry-After"])
        assert 0 < retry_after <= settings.SELFIE_UPLOAD_WINDOW_SECONDS
        assert body["extra"]["retry_after"] == retry_after
        assert "uploads" in body["message"]
    assert upload(other_api).status_code == 201  # counted per user


def test_fifty_uploads_in_a_burst_are_cut_at_the_limit(api, user):
    """The report: 50 upload slots in seconds. Now the default allows 20 per 10 minutes."""
    codes = [presign(api).status_code for _ in range(50)]
    assert codes.count(201) == 20 and codes.count(429) == 30
    assert codes[:20] == [201] * 20


def test_selfies_kept_are_capped_counting_open_upload_slots(api, user, settings):
    """At MAX_SELFIES_PER_USER (selfies plus unclaimed slots) new ones are refused with 409."""
    settings.MAX_SELFIES_PER_USER = 2
    first = upload(api).json()
    ticket = presign(api).json()
    body = assert_error(upload(api), 409)
    assert body["extra"]["limit"] == 2 and "Delete" in body["message"]
    assert_error(presign(api), 409)
    # The open slot was counted when it was handed out, so it can still be claimed.
    uploaded = httpx.post(ticket["url"], data=ticket["fields"],
                          files={"file": ("a.jpg", SAMPLE_SELFIE)}, timeout=10)
    assert uploaded.status_code < 300
    claimed = api.post("/api/v1/selfies/", {"upload_id": ticket["upload_id"]}, format="json")
    assert claimed.status_code == 201, claimed.json()
    assert Selfie.objects.filter(user=user).count() == 2
    assert api.delete(f"/api/v1/selfies/{first['id']}/").status_code == 204
    assert upload(api).status_code == 201
