"""Mirroring a finished video: guarded downloads, expired URLs refreshed once, failures named."""

from __future__ import annotations

import io
import uuid

import botocore.endpoint
import httpx
import pytest
from django.core.files.storage import default_storage

from accounts.models import User
from common.tests.test_video_probe import make_mp4
from jobs.dispatch import mirror
from jobs.dispatch.mirror import (
    MAX_REDIRECTS,
    OutputGone,
    OutputRefused,
    download,
    mirror_output,
    output_key,
)
from jobs.models import Job, JobStatus
from jobs.services.sharing import poster_key
from jobs.services.transitions import job_record_created, job_transition
from providers.tests.support import ScriptedServer

VIDEO = make_mp4()  # a real clip: the copy is probed before the job succeeds


@pytest.fixture
def server(settings):
    """The provider's file host: trusted for the output paths its backend declares (/outputs/)."""
    server = ScriptedServer()
    settings.PROVIDERS = {"p": {"BACKEND": "providers.backends.local.LocalBackend",
                                "BASE_URL": server.url, "DIALECT": "replicate",
                                "API_KEY": "k"}}
    yield server
    server.close()


def fetch(url) -> tuple[int, bytes]:
    buffer = io.BytesIO()
    size = download(url, buffer)
    return size, buffer.getvalue()


class TestDownload:
    def test_redirects_are_followed_and_checked(self, server):
        """A redirect to the file is followed (each hop passes the same guard)."""
        server.reply(302, b"", headers={"Location": "/outputs/video.mp4"})
        server.reply(200, VIDEO)
        assert fetch(f"{server.url}/outputs/1") == (len(VIDEO), VIDEO)
        assert [request.path for request in server.requests] == ["/outputs/1", "/outputs/video.mp4"]

    def test_a_redirect_to_a_private_address_is_refused(self, server):
        """A trusted host cannot bounce the download to an internal address."""
        server.reply(302, b"", headers={"Location": "https://10.1.2.3/video.mp4"})
        with pytest.raises(OutputRefused):
            fetch(f"{server.url}/outputs/1")

    def test_downloads_share_one_pooled_client(self, server, monkeypatch):
        """Building an httpx client costs ~25 ms of CPU (its CA bundle): one per process."""
        built = []
        original = httpx.Client.__init__

        def counting(client, *args, **kwargs):
            built.append(client)
            original(client, *args, **kwargs)
        monkeypatch.setattr(httpx.Client, "__init__", counting)
        for _ in range(3):
            server.reply(200, VIDEO)
            assert fetch(f"{server.url}/outputs/1")[0] == len(VIDEO)
        assert len(built) <= 1

    def test_endless_redirects_stop(self, server):
        for _ in range(MAX_REDIRECTS + 1):
            server.reply(302, b"", headers={"Location": "/outputs/again"})
        with pytest.raises(OutputRefused, match="too many redirects"):
            fetch(f"{server.url}/outputs/1")

    @pytest.mark.parametrize("status", [404, 410])
    def test_a_deleted_output_is_gone(self, server, status):
        """404 and 410 mean the provider dropped the file: ask it for a new URL."""
        server.reply(status, b"")
        with pytest.raises(OutputGone):
            fetch(f"{server.url}/outputs/1")

    def test_other_errors_are_raised_for_a_retry(self, server):
        server.reply(503, b"")
        with pytest.raises(httpx.HTTPStatusError):
            fetch(f"{server.url}/outputs/1")

    def test_a_declared_size_over_the_cap_is_refused_unread(self, server, settings):
        settings.MAX_OUTPUT_BYTES = 1024
        server.reply(200, VIDEO)
        with pytest.raises(OutputRefused, match="over the cap"):
            fetch(f"{server.url}/outputs/1")

    def test_an_empty_output_is_refused(self, server):
        server.reply(200, b"")
        with pytest.raises(OutputRefused, match="empty"):
            fetch(f"{server.url}/outputs/1")


@pytest.fixture
def saving_job(db, server):
    """A job whose provider finished: `saving`, with the provider's output URL."""
    def make(output_url: str) -> Job:
        user = User.objects.create_user(f"{uuid.uuid4().hex[:10]}@example.com", "x-Strong-Pass-99")
        job = Job.objects.create(user=user, style="cyberpunk-hero", last_seq=1)
        job_record_created(job, source="test")
        job_transition(job_id=job.id, status=JobStatus.SAVING, source="test",
                       fields={"provider": "p", "provider_job_id": "pred-1",
                               "output_url": output_url})
        return job
    return make


def prediction(output_url: str) -> dict:
    return {"id": "pred-1", "status": "succeeded", "output": [output_url], "logs": "",
            "created_at": "2026-01-01T00:00:00Z"}


def state(job) -> tuple[str, str]:
    job.refresh_from_db()
    return job.status, job.error_code


class TestMirrorOutput:
    def test_the_video_lands_in_our_bucket_and_the_job_succeeds(self, server, saving_job):
        job = saving_job(f"{server.url}/outputs/1.mp4")
        server.reply(200, VIDEO)
        mirror_output(job_id=job.id)
        assert state(job) == (JobStatus.SUCCEEDED, "")
        assert job.output_key == output_key(job, job.copy_attempts)
        with default_storage.open(job.output_key) as stored:
            assert stored.read() == VIDEO
        assert job.poster_key == poster_key(job, job.copy_attempts)  # for link previews
        with default_storage.open(job.poster_key) as poster:
            assert poster.read(3) == b"\xff\xd8\xff"  # a JPEG
        for key in (job.output_key, job.poster_key):
            default_storage.delete(key)

    def test_a_copy_is_three_s3_requests(self, server, saving_job, monkeypatch):
        """A PUT each for the poster and the video, one HEAD: django-storages' save() also
        asked whether each name was free, and its exists() and size() were a HEAD each, every
        one through a boto3 resource built anew."""
        operations = []
        make_request = botocore.endpoint.Endpoint.make_request

        def recording(endpoint, operation_model, request_dict):
            operations.append(operation_model.name)
            return make_request(endpoint, operation_model, request_dict)
        monkeypatch.setattr(botocore.endpoint.Endpoint, "make_request", recording)
        job = saving_job(f"{server.url}/outputs/1.mp4")
        server.reply(200, VIDEO)
        mirror_output(job_id=job.id)
        assert state(job) == (JobStatus.SUCCEEDED, "")
        assert operations == ["PutObject", "PutObject", "HeadObject"]
        for key in filter(None, (job.output_key, job.poster_key)):
            default_storage.delete(key)

    def test_an_expired_url_is_refreshed_from_the_provider_once(self, server, saving_job):
        """404 on the output: the provider's status hands out a new URL, which is used."""
        job = saving_job(f"{server.url}/outputs/old.mp4")
        server.reply(404, b"")
        server.reply(200, prediction(f"{server.url}/outputs/new.mp4"))
        server.reply(200, VIDEO)
        mirror_output(job_id=job.id)
        assert state(job) == (JobStatus.SUCCEEDED, "")
        assert [request.path for request in server.requests] == [
            "/outputs/old.mp4", "/replicate/v1/predictions/pred-1", "/outputs/new.mp4"]
        for key in filter(None, (job.output_key, job.poster_key)):
            default_storage.delete(key)

    def test_an_output_gone_for_good_fails_the_job_with_a_reason(self, server, saving_job):
        """No fresh URL (the provider repeats the dead one): the job fails as expired."""
        job = saving_job(f"{server.url}/outputs/old.mp4")
        server.reply(404, b"")
        server.reply(200, prediction(f"{server.url}/outputs/old.mp4"))
        mirror_output(job_id=job.id)
        assert state(job) == (JobStatus.FAILED, "output_expired")

    def test_a_provider_error_while_refreshing_fails_the_job(self, server, saving_job):
        job = saving_job(f"{server.url}/outputs/old.mp4")
        server.reply(410, b"")
        server.reply(401, {"detail": "Unauthenticated"})
        mirror_output(job_id=job.id)
        assert state(job) == (JobStatus.FAILED, "output_expired")

    def test_a_refused_output_fails_the_job(self, server, saving_job):
        """An output URL on a private address is never fetched; the job fails, named."""
        job = saving_job("https://10.9.8.7/video.mp4")
        mirror_output(job_id=job.id)
        assert state(job) == (JobStatus.FAILED, "output_refused")
        assert server.requests == []

    def test_a_job_not_saving_is_left_alone(self, server, saving_job):
        """A replayed mirror task for a job that already finished does nothing."""
        job = saving_job(f"{server.url}/outputs/1.mp4")
        job_transition(job_id=job.id, status=JobStatus.CANCELED, source="test")
        mirror_output(job_id=job.id)
        assert state(job) == (JobStatus.CANCELED, "") and server.requests == []

    def test_a_job_deleted_during_the_copy_leaves_no_object(self, server, saving_job,
                                                             monkeypatch):
        """Its account was deleted while the video downloaded: the copy deletes what it stored."""
        job = saving_job(f"{server.url}/outputs/1.mp4")
        server.reply(200, VIDEO)
        probe = mirror.probe_video

        def probe_then_delete(*args, **kwargs):
            probe(*args, **kwargs)
            Job.objects.filter(pk=job.id).delete()
        monkeypatch.setattr(mirror, "probe_video", probe_then_delete)
        mirror_output(job_id=job.id)
        assert not default_storage.exists(output_key(job, 1))
