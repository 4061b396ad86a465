"""Jobs flow through a real (local) provider within its concurrency limit."""

import threading
import time

from django.core.files.storage import default_storage

from jobs.dispatch import redis as dispatch_redis
from jobs.dispatch import slots
from jobs.dispatch.copier import run_copier
from jobs.dispatch.wakeup import MIRROR_LIST, request_mirror
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


def test_finished_videos_are_copied_on_the_dispatchers_copy_threads(engine, provider, make_user,
                                                                     make_jobs):
    """Copy requests go through Redis to the copier's threads, not to the task worker."""
    user = make_user()
    [rendered] = make_jobs(user)
    drive(all_finished([rendered]), timeout=30)
    rendered.refresh_from_db()
    waiting = make_jobs(user, count=3)
    Job.objects.filter(pk__in=[job.id for job in waiting]).update(
        status=JobStatus.SAVING, provider="primary", output_url=rendered.output_url)
    engine.TASKS_RUN_INLINE = False
    for job in waiting:  # as the webhook or the poller asks on commit
        request_mirror(job_id=job.id)
    assert dispatch_redis.client().llen(dispatch_redis.key(MIRROR_LIST)) == 3
    stop = threading.Event()
    copier = run_copier(threads=2, stop=stop)
    try:
        deadline = time.monotonic() + 30
        while Job.objects.filter(status=JobStatus.SAVING).exists():
            assert time.monotonic() < deadline, "copies did not finish"
            time.sleep(0.05)
    finally:
        stop.set()
        copier.join(timeout=10)
    for job in Job.objects.filter(pk__in=[job.id for job in waiting]):
        assert job.status == JobStatus.SUCCEEDED
        assert default_storage.size(job.output_key) > 1000
