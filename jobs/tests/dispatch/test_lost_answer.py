"""A submission whose answer is lost (read timeout) is found and adopted, not made twice."""

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.dispatch import engine as dispatch_engine
from jobs.dispatch.engine import dispatch_pending
from jobs.dispatch.reconciler import reconcile_once
from jobs.models import Job, JobStatus, ProviderState, WebhookInbox
from jobs.services.jobs import job_cancel_any
from jobs.services.provider_events import webhook_receive
from jobs.tests.dispatch.conftest import all_finished, drive
from providers.backends import fake
from providers.exceptions import TransientError


@pytest.mark.parametrize("webhook_delay", [0.0, 2.0],
                         ids=["webhook-before-timeout", "webhook-after-timeout"])
def test_the_local_provider_answering_too_late_renders_once(
        engine, provider, live_server, make_user, make_jobs, webhook_delay):
    """The provider takes the job but answers after our read timeout: its webhooks name the
    submission, the job adopts it, and the video is rendered (and billed) once."""
    engine.PROVIDERS = {"primary": provider.provider_config(webhooks=True, read_timeout=1)}
    engine.PUBLIC_BASE_URL = live_server.url
    provider.control(submit_answer_delay_seconds=3, webhook_delay_seconds=webhook_delay,
                     render_seconds=0.2)
    [job] = make_jobs(make_user())
    drive(all_finished([job]), timeout=60)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, (job.error_code, job.error_message)
    assert job.attempts == 1
    assert provider.counters()["submitted"] == 1
    submitted = job.events.get(status=JobStatus.SUBMITTED)
    assert submitted.detail == {"adopted": job.provider_job_id}


@pytest.fixture
def fake_engine(settings, transactional_db):
    """One in-process fake provider; worker tasks run inline."""
    settings.PROVIDERS = {"fake": {"BACKEND": "providers.backends.fake.FakeBackend",
                                   "MAX_CONCURRENCY": 2}}
    settings.TASKS_RUN_INLINE = True
    settings.KEEP_WARM_IDLE = 3600
    ProviderState.objects.all().delete()
    fake.reset()
    yield settings
    fake.reset()


def _reasons(job):
    return [detail.get("reason") for detail in job.events.values_list("detail", flat=True)]


def test_a_provider_that_can_look_it_up_gives_it_back(fake_engine, make_user, make_jobs):
    """Where the provider finds submissions by our reference, the lost one is adopted at once."""
    fake.FakeBackend.script(fake.AnswerLost())
    [job] = make_jobs(make_user())
    assert dispatch_pending() == 1
    job.refresh_from_db()
    [sent] = fake.outbox
    assert sent.reference == f"{job.id}.1"
    assert sent.webhook_url.endswith(f"/webhooks/fake/?ref={job.id}.1")
    assert job.status == JobStatus.SUBMITTED and job.provider_job_id == sent.provider_job_id
    assert job.events.get(status=JobStatus.SUBMITTED).detail == {"adopted": sent.provider_job_id}


def test_a_provider_that_has_none_gets_it_again(fake_engine, make_user, make_jobs):
    """When the lookup finds nothing, the job goes back in line as after any transient error."""
    fake.FakeBackend.script(TransientError("read timed out", maybe_processed=True))
    [job] = make_jobs(make_user())
    dispatch_pending()
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert "transient_error" in _reasons(job)
    assert fake.outbox == []


def test_without_lookup_the_webhooks_name_it(fake_engine, make_user, make_jobs):
    """Without a lookup the job waits in `dispatching`; a webhook naming its submission (?ref=)
    makes the reconciler adopt it, and what the webhook said is applied."""
    fake_engine.PROVIDERS["fake"]["LOOKUP"] = False
    fake.FakeBackend.script(fake.AnswerLost())
    [job] = make_jobs(make_user())
    dispatch_pending()
    job.refresh_from_db()
    assert job.status == JobStatus.DISPATCHING
    assert job.lease_until > timezone.now() + timedelta(seconds=20)  # not the dispatch lease
    [sent] = fake.outbox
    event = fake.build_event(sent.provider_job_id, "rendering", provider="fake", progress=0.5)
    assert webhook_receive(provider="fake", event=event, reference=f"{job.id}.1") == (True, None)
    assert reconcile_once()["adopted"] == 1
    job.refresh_from_db()
    assert job.status == JobStatus.RENDERING and job.progress == pytest.approx(0.5)
    assert job.provider_job_id == sent.provider_job_id and job.attempts == 1
    assert len(fake.outbox) == 1


def test_without_lookup_or_news_it_goes_back_in_line_when_the_wait_ends(
        fake_engine, make_user, make_jobs):
    """A webhook naming another submission adopts nothing; when the wait ends, the job is
    submitted again."""
    fake_engine.PROVIDERS["fake"]["LOOKUP"] = False
    fake.FakeBackend.script(fake.AnswerLost())
    [job] = make_jobs(make_user())
    dispatch_pending()
    event = fake.build_event("someone-else", "queued", provider="fake")
    webhook_receive(provider="fake", event=event, reference=f"{uuid.uuid4()}.1")
    assert reconcile_once()["adopted"] == 0
    assert Job.objects.get(pk=job.id).status == JobStatus.DISPATCHING
    Job.objects.filter(pk=job.id).update(lease_until=timezone.now() - timedelta(seconds=1))
    reconcile_once()
    job.refresh_from_db()
    assert "dispatch_lease_expired" in _reasons(job)
    assert job.status == JobStatus.SUBMITTED and job.attempts == 2
    assert len(fake.outbox) == 2


def test_without_lookup_or_webhooks_it_is_submitted_again(fake_engine, make_user, make_jobs):
    """With no way to find it, the job goes back in line at once (it may render twice)."""
    fake_engine.PROVIDERS["fake"].update(LOOKUP=False, WEBHOOKS=False)
    fake.FakeBackend.script(fake.AnswerLost())
    [job] = make_jobs(make_user())
    dispatch_pending()
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert "transient_error" in _reasons(job)


def test_an_answer_that_arrives_after_the_adoption_keeps_the_submission(
        fake_engine, make_user, make_jobs, monkeypatch):
    """The reconciler may adopt a submission while its answer is on the way (its webhook came
    first): the answer then confirms it instead of canceling it."""
    fake_engine.PROVIDERS["fake"]["LOOKUP"] = False
    submit = fake.FakeBackend.submit

    def submit_while_the_reconciler_adopts(self, **kwargs):
        submission = submit(self, **kwargs)
        event = fake.build_event(submission.provider_job_id, "queued", provider="fake")
        webhook_receive(provider="fake", event=event, reference=kwargs["reference"])
        assert reconcile_once()["adopted"] == 1
        return submission

    monkeypatch.setattr(fake.FakeBackend, "submit", submit_while_the_reconciler_adopts)
    [job] = make_jobs(make_user())
    dispatch_engine.dispatch_pending()
    job.refresh_from_db()
    [sent] = fake.outbox
    assert job.status == JobStatus.SUBMITTED and job.provider_job_id == sent.provider_job_id
    assert fake.canceled == []


def test_a_submission_named_after_its_job_moved_on_is_canceled(fake_engine, make_user,
                                                               make_jobs):
    """A webhook naming the lost submission of a job canceled meanwhile stops that render."""
    fake_engine.PROVIDERS["fake"]["LOOKUP"] = False
    fake.FakeBackend.script(fake.AnswerLost())
    [job] = make_jobs(make_user())
    dispatch_pending()
    job_cancel_any(job=Job.objects.get(pk=job.id), source="api")
    [sent] = fake.outbox
    event = fake.build_event(sent.provider_job_id, "rendering", provider="fake", progress=0.2)
    webhook_receive(provider="fake", event=event, reference=f"{job.id}.1")
    assert reconcile_once()["adopted"] == 0
    assert fake.canceled == [sent.provider_job_id]
    assert WebhookInbox.objects.get().result == "orphaned"
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED and job.provider_job_id == ""
