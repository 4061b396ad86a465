"""Nothing is lost: expired leases, lost tasks, Redis restarts, cancels and fair share."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from jobs.dispatch import breaker, slots
from jobs.dispatch import engine as dispatch_engine
from jobs.dispatch import redis as dispatch_redis
from jobs.dispatch.engine import available_providers, dispatch_pending
from jobs.dispatch.hooks import free_slot
from jobs.dispatch.reconciler import reconcile_once, recover_lost_mirrors
from jobs.dispatch.wakeup import MIRROR_LEASE_SECONDS, MIRROR_LIST, WAKE_LIST, request_mirror
from jobs.models import Job, JobStatus, WebhookInbox
from jobs.selectors import queued_jobs_in_dispatch_order
from jobs.services import transitions
from jobs.services.jobs import job_cancel
from jobs.services.provider_events import job_apply_provider_event, webhook_receive
from jobs.tests.dispatch.conftest import all_finished, drive
from providers.events import ProviderEvent, Submission
from providers.registry import get_backend


def one_provider_unserved(engine, provider, *, limit: int) -> None:
    """One provider, "primary", with `limit` slots; submissions go to a task queue nobody
    serves, so dispatched jobs stay `dispatching` holding their slots."""
    engine.PROVIDERS = {"primary": provider.provider_config(webhooks=False,
                                                            max_concurrency=limit)}
    engine.TASKS_RUN_INLINE = False


def test_a_dispatch_whose_worker_died_is_requeued_after_its_lease(
        engine, provider, make_user, make_jobs):
    engine.TASKS_RUN_INLINE = False  # the submit task goes to a queue nobody serves: "lost"
    [job] = make_jobs(make_user())
    assert dispatch_pending() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.DISPATCHING
    Job.objects.filter(pk=job.id).update(lease_until=timezone.now() - timedelta(seconds=1))
    engine.TASKS_RUN_INLINE = True
    drive(all_finished([job]), timeout=30)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    reasons = [detail.get("reason") for detail in job.events.values_list("detail", flat=True)]
    assert "dispatch_lease_expired" in reasons


def test_a_lost_poll_or_mirror_is_redriven(engine, provider, make_user, make_jobs):
    engine.TASKS_RUN_INLINE = False
    jobs = make_jobs(make_user(), count=2)
    dispatch_pending()
    engine.TASKS_RUN_INLINE = True
    # Pretend the submissions happened but every later task vanished with a crashed worker.
    Job.objects.update(lease_until=timezone.now() - timedelta(seconds=1))
    drive(all_finished(jobs), timeout=30)
    assert set(Job.objects.values_list("status", flat=True)) == {JobStatus.SUCCEEDED}


def test_a_redis_restart_does_not_let_the_dispatcher_oversubscribe(
        engine, provider, make_user, make_jobs):
    one_provider_unserved(engine, provider, limit=2)
    make_jobs(make_user(), count=5)
    assert dispatch_pending() == 2
    client = dispatch_redis.client()
    for key in client.scan_iter(match=dispatch_redis.key("*")):
        client.delete(key)  # what a Redis restart without persistence leaves
    assert dispatch_pending() == 0  # re-seeded from the database: both slots still taken
    assert slots.in_use(provider="primary") == 2


def assert_asked_again_on_the_next_pass(job) -> None:
    """The job's copy lease has ended, and the next reconciler pass asks for the copy."""
    job.refresh_from_db()
    assert job.status == JobStatus.SAVING and job.lease_until <= timezone.now()
    assert recover_lost_mirrors(timezone.now()) == 1
    assert dispatch_redis.client().lrange(dispatch_redis.key(MIRROR_LIST), 0, -1) == [
        str(job.id).encode()]


def test_copies_asked_for_before_redis_lost_its_data_are_asked_for_again_at_once(
        make_user, settings):
    """A copy request waits in Redis until a copier takes it, so a Redis restart without
    persistence loses it: the job would stay `saving` until its copy lease (2 minutes) ran
    out. The next pass after the restart asks again; while Redis keeps its data, a copy within
    its lease is left alone."""
    settings.TASKS_RUN_INLINE = False  # requests go to the copiers' list in Redis
    client = dispatch_redis.client()
    requests = dispatch_redis.key(MIRROR_LIST)
    recover_lost_mirrors(timezone.now())  # a pass before the job got to `saving`
    job = Job.objects.create(user=make_user(), style="cyberpunk-hero", status=JobStatus.SAVING,
                             output_url="http://127.0.0.1:9/out.mp4", lease_until=timezone.now()
                             + timedelta(seconds=MIRROR_LEASE_SECONDS))
    request_mirror(job_id=job.id)  # as the webhook that finished it does, on commit
    assert recover_lost_mirrors(timezone.now()) == 0  # its request is waiting in Redis
    for key in client.scan_iter(match=dispatch_redis.key("*")):
        client.delete(key)  # what a Redis restart without persistence leaves
    assert recover_lost_mirrors(timezone.now()) == 1
    assert client.lrange(requests, 0, -1) == [str(job.id).encode()]
    assert recover_lost_mirrors(timezone.now()) == 0  # asked once, not on every pass


def test_a_copy_request_redis_could_not_take_is_asked_for_again_on_the_next_pass(
        make_user, settings):
    """The webhook that finishes a render asks for its copy once committed. If Redis cannot
    take that request (restarting, unreachable) while it keeps its data, the job's copy lease
    ends at once, so the next pass asks again instead of two minutes later."""
    settings.TASKS_RUN_INLINE = False  # requests go to the copiers' list in Redis
    recover_lost_mirrors(timezone.now())  # Redis has kept its data since the last pass
    job = Job.objects.create(user=make_user(), style="cyberpunk-hero", status=JobStatus.RENDERING,
                             provider="primary", provider_job_id="p-9")
    reachable = settings.REDIS_URL
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    job_apply_provider_event(source="webhook", event=ProviderEvent(
        provider="primary", provider_job_id="p-9", event_id="p-9/done", status="succeeded",
        output_url="http://127.0.0.1:9/out.mp4"))
    settings.REDIS_URL = reachable
    assert_asked_again_on_the_next_pass(job)


def test_a_copy_the_reconciler_could_not_ask_for_is_asked_for_again_on_the_next_pass(
        make_user, settings):
    """The reconciler renews a job's copy lease and then asks for the copy. If Redis cannot
    take that request, the lease it just renewed ends again, so the next pass retries instead
    of leaving the job in `saving` for two more minutes."""
    settings.TASKS_RUN_INLINE = False  # requests go to the copiers' list in Redis
    recover_lost_mirrors(timezone.now())  # Redis has kept its data since the last pass
    job = Job.objects.create(user=make_user(), style="cyberpunk-hero", status=JobStatus.SAVING,
                             output_url="http://127.0.0.1:9/out.mp4",
                             lease_until=timezone.now() - timedelta(seconds=1))
    reachable = settings.REDIS_URL
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    assert recover_lost_mirrors(timezone.now()) == 0  # Redis took no request
    settings.REDIS_URL = reachable
    assert_asked_again_on_the_next_pass(job)


def test_a_wake_up_with_every_slot_taken_reads_no_database(
        engine, provider, make_user, make_jobs, django_assert_num_queries):
    """Each submission wakes the dispatcher; under a spike every slot is taken, and each pass
    read the providers' states from the database only to find no free slot."""
    one_provider_unserved(engine, provider, limit=2)
    make_jobs(make_user(), count=3)
    assert dispatch_pending() == 2
    with django_assert_num_queries(0):
        assert dispatch_pending() == 0
    slots.release(provider="primary", job_id=Job.objects.filter(
        status=JobStatus.DISPATCHING).first().id)
    assert dispatch_pending() == 1  # a freed slot is taken at once


def test_a_new_job_does_not_wake_the_dispatcher_while_every_slot_is_taken(
        engine, provider, make_user, make_jobs):
    """Under a spike each submission woke the dispatcher only for it to find no free slot; a
    freed slot still wakes it, and once a pass finds one free, newcomers wake it again."""
    one_provider_unserved(engine, provider, limit=2)
    user = make_user()
    make_jobs(user, count=2)
    assert dispatch_pending() == 2
    assert dispatch_pending() == 0  # every slot taken: the pass marks it
    wake = dispatch_redis.key(WAKE_LIST)
    client = dispatch_redis.client()
    client.delete(wake)
    make_jobs(user, count=3)
    assert client.llen(wake) == 0
    free_slot(provider="primary", job_id=Job.objects.filter(
        status=JobStatus.DISPATCHING).first().id)
    assert client.llen(wake) == 1
    client.delete(wake)
    assert dispatch_pending() == 1  # the freed slot's pass takes the head of the line
    assert dispatch_pending() == 0
    make_jobs(user)
    assert client.llen(wake) == 0
    slots.release(provider="primary", job_id=Job.objects.filter(
        status=JobStatus.DISPATCHING).first().id)  # a lease ended: no wake-up of its own
    Job.objects.filter(status=JobStatus.QUEUED).delete()
    assert dispatch_pending() == 0  # a slot free, the line empty: the mark is cleared
    make_jobs(user)
    assert client.llen(wake) == 1


def test_slots_return_when_the_database_says_the_job_left(engine, make_user, make_jobs):
    engine.TASKS_RUN_INLINE = False
    [job] = make_jobs(make_user())
    dispatch_pending()
    assert slots.in_use(provider="primary") == 1
    Job.objects.filter(pk=job.id).update(status=JobStatus.FAILED)  # a lost release
    client = dispatch_redis.client()
    key = dispatch_redis.key("slots", "primary")
    client.zadd(key, {str(job.id): 1})  # lease long past: as if acquired minutes ago
    slots.resync(provider="primary")
    assert slots.in_use(provider="primary") == 0


def test_fair_share_puts_a_single_job_ahead_of_a_bulk_users_backlog(make_user, make_jobs,
                                                                   transactional_db):
    bulk, single = make_user(), make_user()
    make_jobs(bulk, count=30)
    [lonely] = make_jobs(single)
    order = list(queued_jobs_in_dispatch_order().values_list("id", flat=True))
    assert order.index(lonely.id) <= 1


def test_fair_share_under_load_starts_the_single_job_within_the_next_free_slots(
        engine, provider, make_user, make_jobs):
    one_provider_unserved(engine, provider, limit=3)
    bulk, single = make_user(), make_user()
    make_jobs(bulk, count=40)
    assert dispatch_pending() == 3
    [lonely] = make_jobs(single)
    busy = list(Job.objects.filter(status=JobStatus.DISPATCHING))
    Job.objects.filter(pk=busy[0].id).update(status=JobStatus.FAILED)
    slots.release(provider="primary", job_id=busy[0].id)
    assert dispatch_pending() == 1
    lonely.refresh_from_db()
    assert lonely.status == JobStatus.DISPATCHING


@pytest.mark.parametrize("stage", ["queued", "dispatching", "submitted", "rendering"])
def test_cancel_in_every_stage_reaches_the_provider_and_frees_the_slot(
        engine, provider, make_user, make_jobs, stage):
    provider.control(render_seconds=5.0)
    user = make_user()
    [job] = make_jobs(user)
    if stage != "queued":
        engine.TASKS_RUN_INLINE = stage != "dispatching"
        dispatch_pending()
    if stage == "rendering":
        drive(lambda: Job.objects.get(pk=job.id).status == JobStatus.RENDERING, timeout=20)
    job.refresh_from_db()
    assert job.status == stage
    engine.TASKS_RUN_INLINE = True
    job_cancel(user=user, job_id=job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED
    assert slots.in_use(provider="primary") == 0
    if stage in ("submitted", "rendering"):
        assert provider.counters()["canceled"] == 1
    reconcile_once()
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED  # nothing brings it back


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's write lock")
def test_slots_freed_together_are_filled_in_one_turn_of_the_write_lock(
        engine, provider, make_user, make_jobs, write_lock_turns):
    """A wave of renders finishing frees several slots at once; their jobs were moved to
    `dispatching` one write transaction after another, each waiting for SQLite's lock."""
    one_provider_unserved(engine, provider, limit=3)
    make_jobs(make_user(), count=4)
    available_providers()  # the providers' states are made on first use: not what is counted
    write_lock_turns.clear()
    assert dispatch_pending() == 3
    assert len(write_lock_turns) == 1
    assert Job.objects.filter(status=JobStatus.DISPATCHING).count() == 3
    assert slots.in_use(provider="primary") == 3


def test_a_job_canceled_while_it_got_a_slot_gives_the_slot_back(
        engine, provider, make_user, make_jobs, monkeypatch):
    one_provider_unserved(engine, provider, limit=3)
    user = make_user()
    first, second = make_jobs(user, count=2)
    original = slots.acquire

    def cancel_first_meanwhile(*, provider, job_id, limit):
        if job_id == first.id:
            job_cancel(user=user, job_id=first.id)
        return original(provider=provider, job_id=job_id, limit=limit)
    monkeypatch.setattr(slots, "acquire", cancel_first_meanwhile)
    assert dispatch_pending() == 1
    assert slots.in_use(provider="primary") == 1
    second.refresh_from_db()
    assert second.status == JobStatus.DISPATCHING


def test_a_dispatch_pass_that_fails_halfway_moves_no_job_and_gives_every_slot_back(
        engine, provider, make_user, make_jobs, monkeypatch):
    one_provider_unserved(engine, provider, limit=3)
    make_jobs(make_user(), count=2)
    original = dispatch_engine.job_transition
    calls = []

    def fail_on_the_second(**kwargs):
        calls.append(kwargs["job_id"])
        if len(calls) == 2:
            raise RuntimeError("database gone")
        return original(**kwargs)
    monkeypatch.setattr(dispatch_engine, "job_transition", fail_on_the_second)
    with pytest.raises(RuntimeError):
        dispatch_pending()
    assert not Job.objects.filter(status=JobStatus.DISPATCHING).exists()
    assert slots.in_use(provider="primary") == 0


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's write lock")
def test_a_submission_is_recorded_with_what_is_known_of_it_in_one_write_transaction(
        engine, provider, make_user, make_jobs, write_lock_turns, monkeypatch):
    """The provider's id, its answer and a webhook that beat them (a fast render) were three
    write transactions, each a turn of SQLite's write lock in the process handing out slots."""
    engine.TASKS_RUN_INLINE = False  # the submission is made below, by hand
    [job] = make_jobs(make_user())
    assert dispatch_pending() == 1
    job.refresh_from_db()
    webhook = ProviderEvent(provider="primary", provider_job_id="p-1", event_id="e-1",
                            status="rendering", progress=0.5)
    assert webhook_receive(provider="primary", event=webhook) == (True, None)  # waits
    answer = ProviderEvent(provider="primary", provider_job_id="p-1", event_id="p-1/answer",
                           status="rendering", progress=0.2)
    backend = get_backend("primary")
    monkeypatch.setattr(backend, "submit", lambda **_: Submission("p-1", answer))
    breaker.record_success("primary")  # its once-a-while activity write is not what is counted
    write_lock_turns.clear()
    dispatch_engine.submit_job(job_id=job.id, attempt=job.attempts)
    assert len(write_lock_turns) == 1
    job.refresh_from_db()
    assert (job.status, job.provider_job_id, job.progress) == (JobStatus.RENDERING, "p-1", 0.5)
    assert WebhookInbox.objects.get(event_id="e-1").result == "applied"


def test_news_that_cannot_be_applied_does_not_undo_the_recorded_submission(
        engine, provider, make_user, make_jobs, monkeypatch):
    engine.TASKS_RUN_INLINE = False
    [job] = make_jobs(make_user())
    assert dispatch_pending() == 1
    job.refresh_from_db()
    backend = get_backend("primary")
    monkeypatch.setattr(backend, "submit", lambda **_: Submission("p-2", None))

    def broken(**_):
        raise RuntimeError("the inbox is unreadable")
    monkeypatch.setattr(dispatch_engine, "job_apply_waiting_webhooks", broken)
    dispatch_engine.submit_job(job_id=job.id, attempt=job.attempts)
    job.refresh_from_db()
    assert (job.status, job.provider_job_id) == (JobStatus.SUBMITTED, "p-2")


def test_jobs_go_out_to_their_provider_before_their_dispatch_is_published(
        engine, provider, make_user, make_jobs, monkeypatch):
    """The pass's commit published every job's `dispatching` event (and ran its hooks) before
    the first submission started: time a freed slot stayed empty at the provider."""
    engine.TASKS_RUN_INLINE = False
    make_jobs(make_user(), count=2)
    order = []
    monkeypatch.setattr(dispatch_engine, "_enqueue_submit",
                        lambda job_id, attempt: order.append("submit"))
    monkeypatch.setattr(transitions, "send_job_event",
                        lambda message: order.append(message["status"]))
    assert dispatch_pending() == 2
    assert order == ["submit", "submit", JobStatus.DISPATCHING, JobStatus.DISPATCHING]


def test_a_pass_reads_no_more_of_the_line_than_there_are_free_slots(
        engine, provider, make_user, make_jobs):
    one_provider_unserved(engine, provider, limit=3)
    make_jobs(make_user(), count=5)
    assert dispatch_pending() == 3
    make_jobs(make_user(), count=2)
    slots.release(provider="primary", job_id=Job.objects.filter(
        status=JobStatus.DISPATCHING).values_list("id", flat=True).first())
    with CaptureQueriesContext(connection) as queries:
        assert dispatch_pending() == 1
    line = [query["sql"] for query in queries.captured_queries
            if "ORDER BY" in query["sql"] and "line_key" in query["sql"]]
    assert len(line) == 1 and line[0].rstrip().endswith("LIMIT 1")
