"""The engine under a misbehaving provider: 429 storms, outages, lost and duplicated webhooks."""

import pytest

from jobs.dispatch import breaker
from jobs.dispatch.reconciler import reconcile_once
from jobs.models import STATUS_RANK, BreakerState, Job, JobStatus, ProviderState, WebhookInbox
from jobs.presenter import job_event_message
from jobs.selectors import providers_all_unavailable
from jobs.tests.dispatch.conftest import all_finished, drive


def _statuses():
    return {status: Job.objects.filter(status=status).count() for status in JobStatus.values}


def test_a_429_storm_is_absorbed_and_never_fails_a_job(engine, provider, make_user, make_jobs):
    """The provider accepts 2 while we think 5: its 429s pause it, jobs wait, none fail."""
    engine.PROVIDERS = {"primary": provider.provider_config(webhooks=False, max_concurrency=5)}
    provider.control(max_concurrency=2, render_seconds=0.1)
    jobs = make_jobs(make_user(), count=12)
    drive(all_finished(jobs), timeout=90)
    assert _statuses()["succeeded"] == 12
    assert provider.counters()["rejected_429"] > 0
    assert provider.counters()["peak_in_flight"] <= 2
    bounced = Job.objects.filter(events__detail__reason="rate_limited").distinct()
    assert bounced.exists()


@pytest.fixture
def with_fallback(engine, provider, fallback_process):
    """Two providers: "primary" (preferred) and a healthy "fallback"."""
    fallback_process.control(max_concurrency=10, outage="off", mode="fast",
                             render_seconds=0.05, boot_seconds=0, reset_counters=True)
    engine.PROVIDERS = {
        "primary": provider.provider_config(webhooks=False, priority=10, read_timeout=1),
        "fallback": fallback_process.provider_config(webhooks=False, priority=20),
    }
    return fallback_process


def test_outage_fails_over_then_the_circuit_closes_again(
        engine, provider, with_fallback, make_user, make_jobs):
    provider.control(outage="503")
    jobs = make_jobs(make_user(), count=6)
    drive(all_finished(jobs), timeout=60)
    assert _statuses()["succeeded"] == 6
    assert ProviderState.objects.get(name="primary").breaker_state == BreakerState.OPEN
    assert set(Job.objects.values_list("provider", flat=True)) == {"fallback"}

    provider.control(outage="off")
    engine.BREAKER_COOLDOWN_SECONDS = 0.0
    more = make_jobs(make_user(), count=2)
    drive(all_finished(more), timeout=60)
    assert ProviderState.objects.get(name="primary").breaker_state == BreakerState.CLOSED
    assert Job.objects.filter(pk__in=[j.id for j in more], provider="primary").exists()


def test_every_provider_down_keeps_jobs_waiting_not_failed(engine, provider, make_user,
                                                           make_jobs):
    engine.PROVIDERS = {"primary": provider.provider_config(webhooks=False, read_timeout=1)}
    engine.BREAKER_COOLDOWN_SECONDS = 3600
    provider.control(outage="503")
    jobs = make_jobs(make_user(), count=3)
    for _ in range(20):
        reconcile_once()
        Job.objects.update(not_before=None)  # skip the retry backoff
    assert not breaker.can_submit(breaker.provider_state("primary"))
    assert set(Job.objects.values_list("status", flat=True)) == {JobStatus.QUEUED}
    assert providers_all_unavailable()
    assert len(jobs) == 3


def test_permanent_errors_fail_the_job_with_a_reason(engine, provider, make_user, make_jobs):
    engine.PROVIDERS = {"primary": {**provider.provider_config(webhooks=False),
                                    "API_KEY": "wrong-key"}}
    jobs = make_jobs(make_user(), count=1)
    drive(all_finished(jobs), timeout=30)
    job = Job.objects.get()
    assert job.status == JobStatus.FAILED
    assert job.error_message and "Traceback" not in job.error_message


@pytest.mark.parametrize("knobs", [{"webhook_drop": 1.0}, {"webhook_duplicate": 1.0},
                                   {"webhook_reorder": 1.0}])
def test_webhooks_lost_duplicated_or_reordered_end_in_one_terminal_state(
        engine, provider, live_server, make_user, make_jobs, knobs):
    engine.PROVIDERS = {"primary": provider.provider_config(webhooks=True)}
    engine.PUBLIC_BASE_URL = live_server.url
    engine.POLL_AFTER = 1.0
    provider.control(**knobs, render_seconds=0.2)
    jobs = make_jobs(make_user(), count=4)
    drive(all_finished(jobs), timeout=60)
    for job in Job.objects.all():
        statuses = list(job.events.order_by("seq").values_list("status", flat=True))
        assert statuses[-1] == JobStatus.SUCCEEDED
        terminal = [s for s in statuses if s in ("succeeded", "failed", "canceled")]
        assert terminal == ["succeeded"]
        ranks = [STATUS_RANK[s] for s in statuses if s != "queued"]
        assert ranks == sorted(ranks), statuses  # never a regression
    counters = provider.counters()
    if knobs.get("webhook_drop"):
        assert counters["webhooks_dropped"] > 0
    if knobs.get("webhook_duplicate"):
        assert counters["webhooks_duplicated"] > 0
        assert WebhookInbox.objects.count() >= 4


def test_expired_output_fails_with_a_clear_reason(engine, provider, make_user, make_jobs):
    provider.control(output_ttl_seconds=0)
    jobs = make_jobs(make_user(), count=1)
    drive(all_finished(jobs), timeout=30)
    job = Job.objects.get()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "output_expired"
    assert "expired" in job.error_message or "deleted" in job.error_message


def test_a_job_stranded_at_a_provider_that_went_down_fails_over(
        engine, provider, with_fallback, make_user, make_jobs):
    engine.STRANDED_AFTER = 0.5
    engine.BREAKER_COOLDOWN_SECONDS = 3600
    provider.control(render_seconds=60)
    [job] = make_jobs(make_user())
    drive(lambda: Job.objects.get(pk=job.id).status == JobStatus.RENDERING, timeout=20)
    provider.control(outage="503")
    drive(all_finished([job]), timeout=60)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    assert job.provider == "fallback"
    reasons = [d.get("reason") for d in job.events.values_list("detail", flat=True)]
    assert "provider_down" in reasons


def test_a_job_the_renderer_keeps_failing_says_so_after_three_tries(
        engine, provider, make_user, make_jobs):
    provider.control(failure_rate=1.0)
    [job] = make_jobs(make_user())
    drive(all_finished([job]), timeout=60)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.attempts == 3
    assert "failed 3 times in a row" in job.error_message
    requeued = job.events.filter(detail__reason__startswith="provider_failed").first()
    assert job_event_message(job, requeued)["reason"].startswith("provider_failed")
