"""A verified webhook about a known job is applied and filed with its result in one short write
transaction; one about a job not recorded yet waits in the inbox for its submission."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import connection
from django.db.models.sql.compiler import SQLCompiler
from django.test.utils import CaptureQueriesContext

from jobs.models import JobStatus, WebhookInbox
from jobs.services import provider_events
from jobs.services.jobs import job_create
from jobs.services.provider_events import WAITING, webhook_receive
from jobs.services.transitions import job_transition
from providers.events import ProviderEvent

pytestmark = pytest.mark.django_db(transaction=True)  # real commits, as in production


@pytest.fixture
def rendering_job(user, selfie):
    job, _ = job_create(user=user, selfie_id=selfie.id, style="cyberpunk-hero")
    job_transition(job_id=job.id, status=JobStatus.DISPATCHING, source="test",
                   fields={"provider": "local"})
    job_transition(job_id=job.id, status=JobStatus.SUBMITTED, source="test",
                   fields={"provider_job_id": "pred-1"})
    return job


def progress(event_id: str, value: float) -> ProviderEvent:
    return ProviderEvent(provider="local", provider_job_id="pred-1", event_id=event_id,
                         status="rendering", progress=value)


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's write lock")
def test_a_webhook_about_a_known_job_takes_one_turn_of_the_write_lock(rendering_job,
                                                                     write_lock_turns):
    """Filed and applied at once: a spike's progress webhooks are as many as its
    submissions."""
    write_lock_turns.clear()
    new, transition = webhook_receive(provider="local", event=progress("e1", 0.5))
    assert new and transition.applied
    assert len(write_lock_turns) == 1
    rendering_job.refresh_from_db()
    assert rendering_job.status == JobStatus.RENDERING
    assert WebhookInbox.objects.get(event_id="e1").result == "applied"


def test_a_webhook_whose_application_fails_is_not_filed_so_its_redelivery_applies(
        rendering_job, monkeypatch):
    """Never left claimed ("applying") by a failure halfway, where nothing would apply it: the
    view answers 500, and the provider's retry of the same event is applied."""
    def broken(**kwargs):
        raise RuntimeError("database went away")
    monkeypatch.setattr(provider_events, "job_apply_provider_event", broken)
    with pytest.raises(RuntimeError):
        webhook_receive(provider="local", event=progress("e2", 0.25))
    assert not WebhookInbox.objects.filter(event_id="e2").exists()
    monkeypatch.undo()
    new, transition = webhook_receive(provider="local", event=progress("e2", 0.25))
    assert new and transition.applied
    rendering_job.refresh_from_db()
    assert rendering_job.progress == pytest.approx(0.25)


def test_a_duplicate_delivery_changes_nothing(rendering_job):
    assert webhook_receive(provider="local", event=progress("e3", 0.5))[0]
    assert webhook_receive(provider="local", event=progress("e3", 0.5)) == (False, None)
    assert WebhookInbox.objects.filter(event_id="e3").count() == 1
    rendering_job.refresh_from_db()
    assert rendering_job.last_seq == 4  # created, dispatching, submitted, rendering: once


def test_a_webhook_before_its_submission_waits_then_is_applied_by_it(rendering_job):
    early = ProviderEvent(provider="local", provider_job_id="pred-2", event_id="e4",
                          status="rendering", progress=0.75)
    assert webhook_receive(provider="local", event=early) == (True, None)
    assert WebhookInbox.objects.get(event_id="e4").result == WAITING
    job_transition(job_id=rendering_job.id, status=JobStatus.SUBMITTED, source="test",
                   requeue=False, fields={"provider_job_id": "pred-2"}, stage="Resubmitted")
    assert provider_events.job_apply_waiting_webhooks(provider="local",
                                                      provider_job_id="pred-2") == 1
    rendering_job.refresh_from_db()
    assert rendering_job.status == JobStatus.RENDERING
    assert rendering_job.progress == pytest.approx(0.75)


def test_a_webhook_about_a_known_job_is_filed_once_with_its_result(rendering_job):
    """Its inbox row was inserted waiting, claimed and given its result: three writes of the
    row in the transaction every other writer queues behind."""
    with CaptureQueriesContext(connection) as queries:
        new, transition = webhook_receive(provider="local", event=progress("e5", 0.5))
    assert new and transition.applied
    inbox_writes = [query["sql"] for query in queries.captured_queries
                    if "webhookinbox" in query["sql"].lower()
                    and query["sql"].lstrip().upper().startswith(("INSERT", "UPDATE"))]
    assert len(inbox_writes) == 1 and inbox_writes[0].lstrip().upper().startswith("INSERT")
    assert WebhookInbox.objects.get(event_id="e5").result == "applied"


def test_a_duplicate_delivery_with_other_news_changes_nothing(rendering_job):
    """Its filing fails before anything of it is applied."""
    assert webhook_receive(provider="local", event=progress("e6", 0.5))[0]
    assert webhook_receive(provider="local", event=progress("e6", 0.9)) == (False, None)
    rendering_job.refresh_from_db()
    assert rendering_job.progress == pytest.approx(0.5)
    assert rendering_job.last_seq == 4


def test_the_job_a_webhook_is_about_is_found_without_building_a_query(rendering_job):
    """Every webhook looks its job up before freeing the slot; building and compiling that
    query cost more than running it."""
    known = progress("e7", 0.5)
    unknown = ProviderEvent(provider="local", provider_job_id="pred-9", event_id="e8",
                            status="rendering")
    provider_events._job_id_of(known)  # compiled on first use in the process
    with mock.patch.object(SQLCompiler, "as_sql", autospec=True,
                           side_effect=SQLCompiler.as_sql) as as_sql:
        assert provider_events._job_id_of(known) == rendering_job.id
        assert provider_events._job_id_of(unknown) is None
    assert as_sql.call_count == 0
