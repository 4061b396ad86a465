"""A job succeeds only with a real video in our bucket, stored by exactly one copy."""

import threading

import httpx
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from storages.backends.s3 import S3Storage

from jobs.dispatch import mirror
from jobs.models import Job, JobStatus
from jobs.selectors import job_video_url
from jobs.services.outputs import job_claim_copy, job_record_output
from jobs.tests.dispatch.conftest import all_finished, drive
from jobs.tests.dispatch.test_webhook_view import prediction, signed


@pytest.fixture
def rendered_url(engine, provider, make_user, make_jobs):
    """The output URL of a video the local provider really rendered."""
    [rendered] = make_jobs(make_user())
    drive(all_finished([rendered]), timeout=30)
    rendered.refresh_from_db()
    assert rendered.status == JobStatus.SUCCEEDED
    return rendered.output_url


@pytest.fixture
def saving_job(engine, make_user, make_jobs):
    """A job whose provider has finished with `url`, waiting for its copy."""
    def make(url):
        [job] = make_jobs(make_user())
        Job.objects.filter(pk=job.id).update(status=JobStatus.SAVING, provider="primary",
                                             output_url=url)
        return job
    return make


def stored_videos(job):
    """This job's objects under the user's videos/ (other tests' users may share the id)."""
    _, files = default_storage.listdir(f"videos/{job.user_id}/")
    return [name for name in files if name.startswith(str(job.id))]


def test_a_result_that_is_not_a_video_fails_the_job(engine, provider, saving_job):
    """The provider's control JSON, even from an allowed host, fails the job clearly."""
    engine.OUTPUT_URL_ALLOWED_HOSTS = [provider.url.split("://", 1)[1]]
    job = saving_job(f"{provider.url}/_control")
    mirror.mirror_output(job_id=job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "output_not_video"
    assert job.error_message.startswith("The renderer returned something that isn't a video")
    assert stored_videos(job) == []


def test_the_providers_control_api_is_not_one_of_its_output_paths(engine, provider, saving_job):
    """Only the paths the backend declares are fetched from the provider's private host."""
    job = saving_job(f"{provider.url}/_control")
    mirror.mirror_output(job_id=job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "output_refused"
    assert stored_videos(job) == []


def test_a_signed_webhook_naming_the_providers_control_api_fails_the_job(
        client, engine, provider, make_user, make_jobs):
    """A verified webhook cannot make the provider's /_control JSON a job's video."""
    engine.PROVIDERS = {"primary": provider.provider_config(webhooks=True)}
    [job] = make_jobs(make_user())
    Job.objects.filter(pk=job.id).update(status=JobStatus.RENDERING, provider="primary",
                                         provider_job_id="pred-control")
    body, headers = signed(prediction("pred-control", status="succeeded",
                                      output=f"{provider.url}/_control"))
    response = client.post("/webhooks/primary/", body, content_type="application/json",
                           **headers)
    assert response.status_code == 200
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "output_refused"
    assert stored_videos(job) == []


def test_two_concurrent_copies_of_one_job_succeed_it_once(monkeypatch, rendered_url, saving_job):
    """Both copies run (the webhook's and the reconciler's); exactly one wins, and the job's
    video answers 200."""
    job = saving_job(rendered_url)
    both_named = threading.Barrier(2, timeout=20)
    available_name = S3Storage.get_available_name

    def name_then_wait(self, name, max_length=None):
        name = available_name(self, name, max_length)
        both_named.wait()  # as in the probe runs: both copies name their object, then store
        return name

    monkeypatch.setattr(S3Storage, "get_available_name", name_then_wait)
    errors = []

    def copy():
        try:
            mirror.mirror_output(job_id=job.id)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()  # this thread's own database connection

    threads = [threading.Thread(target=copy) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not errors
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert list(job.events.filter(status=JobStatus.SUCCEEDED).values_list("source", flat=True)) \
        == ["mirror"]
    response = httpx.get(job_video_url(job), timeout=10)
    assert response.status_code == 200
    assert len(response.content) == default_storage.size(job.output_key) > 1000
    # The loser left no orphan, neither a video nor a poster.
    assert sorted(stored_videos(job)) == sorted(key.rsplit("/", 1)[1]
                                                for key in (job.output_key, job.poster_key))


def test_only_the_latest_copy_may_succeed_the_job(rendered_url, saving_job):
    """A copy superseded by a later claim changes nothing; the later one succeeds the job."""
    job = saving_job(rendered_url)
    first = job_claim_copy(job_id=job.id, lease_seconds=60).copy_attempts
    second = job_claim_copy(job_id=job.id, lease_seconds=60).copy_attempts
    assert second == first + 1
    key = default_storage.save(mirror.output_key(job, first), httpx_video(rendered_url))
    try:
        assert not job_record_output(job_id=job.id, attempt=first, key=key).applied
        assert Job.objects.get(pk=job.id).status == JobStatus.SAVING
        assert job_record_output(job_id=job.id, attempt=second, key=key).applied
    finally:
        default_storage.delete(key)


def test_a_job_never_succeeds_without_its_stored_video(rendered_url, saving_job):
    """The copy's object must exist in the bucket before the job succeeds."""
    job = saving_job(rendered_url)
    attempt = job_claim_copy(job_id=job.id, lease_seconds=60).copy_attempts
    assert job_record_output(job_id=job.id, attempt=attempt,
                             key=mirror.output_key(job, attempt)) is None
    assert Job.objects.get(pk=job.id).status == JobStatus.SAVING


def httpx_video(url):
    return ContentFile(httpx.get(url, timeout=10).content, name="video.mp4")
