"""Jobs flow through a real (local) provider within its concurrency limit."""

from django.core.files.storage import default_storage

from jobs.dispatch import slots
from jobs.models import Job, JobStatus
from jobs.tests.dispatch.conftest import all_finished, drive


def test_jobs_succeed_by_polling_and_land_in_our_bucket(engine, provider, make_user, make_jobs):
    jobs = make_jobs(make_user(), count=3)
    drive(all_finished(jobs), timeout=30)
    for job in Job.objects.filter(pk__in=[j.id for j in jobs]):
        assert job.status == JobStatus.SUCCEEDED, (job.error_code, job.error_message)
        assert job.output_key.startswith(f"videos/{job.user_id}/")
        assert default_storage.size(job.output_key) > 1000
        statuses = list(job.events.values_list("status", flat=True))
        assert statuses[0] == "queued" and statuses[-1] == "succeeded"
        assert statuses.index("dispatching") < statuses.index("submitted") < statuses.index(
            "saving")
        seqs = list(job.events.values_list("seq", flat=True))
        assert seqs == list(range(1, len(seqs) + 1))
        assert job.accepted_at and job.dispatched_at and job.finished_at
    assert slots.in_use(provider="primary") == 0


def test_never_more_in_flight_than_the_limit(engine, provider, make_user, make_jobs):
    engine.PROVIDERS = {"primary": provider.provider_config(webhooks=False, max_concurrency=5)}
    provider.control(max_concurrency=5, render_seconds=0.1)
    users = [make_user() for _ in range(4)]
    jobs = [job for user in users for job in make_jobs(user, count=10)]
    drive(all_finished(jobs), timeout=90)
    assert Job.objects.filter(status=JobStatus.SUCCEEDED).count() == 40
    counters = provider.counters()
    assert counters["peak_in_flight"] <= 5
    assert counters["rejected_429"] == 0
