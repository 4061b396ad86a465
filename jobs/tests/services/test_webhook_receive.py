"""A verified webhook is filed in the inbox, then claimed, applied and given its result in one
write transaction."""

from __future__ import annotations

import pytest
from django.db import connection, connections

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
def test_a_webhook_takes_two_turns_of_the_write_lock(rendering_job, monkeypatch):
    """Its insert (committed before the job is looked up, so the submit path sees it) and
    everything else: a spike's progress webhooks are as many as its submissions."""
    wrapper = type(connections["default"])
    turns = []
    original = wrapper._take_write_lock

    def counting(self):
        if not self._holding_write_lock:
            turns.append(1)
        return original(self)
    monkeypatch.setattr(wrapper, "_take_write_lock", counting)
    new, transition = webhook_receive(provider="local", event=progress("e1", 0.5))
    assert new and transition.applied
    assert len(turns) == 2
    rendering_job.refresh_from_db()
    assert rendering_job.status == JobStatus.RENDERING
    assert WebhookInbox.objects.get(event_id="e1").result == "applied"


def test_a_webhook_whose_application_fails_waits_to_be_applied_again(rendering_job,
                                                                   monkeypatch):
    """Not left claimed ("applying") by a failure halfway: nothing would ever apply it."""
    def broken(**kwargs):
        raise RuntimeError("database went away")
    monkeypatch.setattr(provider_events, "job_apply_provider_event", broken)
    with pytest.raises(RuntimeError):
        webhook_receive(provider="local", event=progress("e2", 0.25))
    assert WebhookInbox.objects.get(event_id="e2").result == WAITING
    monkeypatch.undo()
    assert provider_events.job_apply_waiting_webhooks(provider="local",
                                                      provider_job_id="pred-1") == 1
    rendering_job.refresh_from_db()
    assert rendering_job.progress == pytest.approx(0.25)
