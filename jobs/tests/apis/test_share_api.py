"""Sharing a finished video: the link is made once, the poster on demand, and off means 404."""

from __future__ import annotations

import re

import pytest
from django.core.files.storage import default_storage

from jobs.models import Job
from jobs.tests.apis.support import assert_error
from jobs.tests.finished import finished_job

TOKEN_URL = re.compile(r"https://surge\.example\.com/v/([A-Za-z0-9_-]{22})/")


@pytest.fixture(autouse=True)
def public_base_url(settings):
    settings.PUBLIC_BASE_URL = "https://surge.example.com"


def share(api, job):
    return api.post(f"/api/v1/jobs/{job.id}/share/")


class TestJobShareApi:
    def test_sharing_gives_a_public_link_built_from_the_public_base_url(self, api, user):
        """The link is on PUBLIC_BASE_URL with a 22-character random token, not the job id."""
        job = finished_job(user, poster=True)
        response = share(api, job)
        assert response.status_code == 200, response.content
        token = TOKEN_URL.fullmatch(response.json()["share_url"]).group(1)
        assert str(job.id) not in response.json()["share_url"]
        assert Job.objects.get(pk=job.id).share_token == token

    def test_sharing_twice_keeps_the_link(self, api, user):
        job = finished_job(user, poster=True)
        assert share(api, job).json() == share(api, job).json()

    def test_turning_off_then_on_makes_a_new_link(self, api, user):
        """A link that went further than meant stays dead once turned off."""
        job = finished_job(user, poster=True)
        first = share(api, job).json()["share_url"]
        assert api.delete(f"/api/v1/jobs/{job.id}/share/").status_code == 204
        assert Job.objects.get(pk=job.id).share_token is None
        assert share(api, job).json()["share_url"] != first

    def test_a_video_from_before_posters_gets_one_on_first_share(self, api, user):
        job = finished_job(user)
        assert job.poster_key == ""
        share(api, job)
        job.refresh_from_db()
        with default_storage.open(job.poster_key) as poster:
            assert poster.read(3) == b"\xff\xd8\xff"

    def test_only_a_finished_video_can_be_shared(self, api, user):
        job = Job.objects.create(user=user, style="cyberpunk-hero")
        body = assert_error(share(api, job), 409)
        assert body["extra"] == {"status": "queued"}

    def test_another_users_video_is_not_found(self, other_api, user):
        job = finished_job(user, poster=True)
        assert_error(share(other_api, job), 404)
        assert_error(other_api.delete(f"/api/v1/jobs/{job.id}/share/"), 404)
        assert Job.objects.get(pk=job.id).share_token is None

    def test_signed_out_is_refused(self, user, client):
        job = finished_job(user, poster=True)
        assert client.post(f"/api/v1/jobs/{job.id}/share/").status_code in (401, 403)

    def test_both_operations_are_in_the_schema(self, client):
        schema = client.get("/api/schema/?format=json").json()
        operations = schema["paths"]["/api/v1/jobs/{job_id}/share/"]
        assert operations["post"]["operationId"] == "job_share"
        assert operations["delete"]["operationId"] == "job_unshare"
        body = operations["post"]["responses"]["200"]["content"]["application/json"]["schema"]
        name = body["$ref"].rsplit("/", 1)[1]
        assert schema["components"]["schemas"][name]["required"] == ["share_url"]


def test_a_video_whose_poster_cannot_be_made_is_shared_without_one(api, user):
    """The stored video is unreadable (or gone): the link still works, without a preview."""
    job = finished_job(user)
    default_storage.delete(job.output_key)
    assert share(api, job).status_code == 200
    assert Job.objects.get(pk=job.id).poster_key == ""
