"""job_requeue: back in line and the slot freed; a fenced-off job keeps the slot it holds."""

from __future__ import annotations

import pytest

from jobs.dispatch import slots
from jobs.line import HEAD_ROUND, round_of
from jobs.models import Job, JobStatus
from jobs.services.dispatch import job_fail, job_requeue

pytestmark = pytest.mark.django_db


@pytest.fixture
def at_provider(user):
    """A job rendering at provider "p" (second submission), holding one of its slots."""
    job = Job.objects.create(user=user, style="cyberpunk-hero", status=JobStatus.RENDERING,
                             provider="p", provider_job_id="pred-2", attempts=2, last_seq=0)
    assert slots.acquire(provider="p", job_id=job.id, limit=5)
    return job


def test_a_requeued_job_goes_first_and_frees_its_slot(at_provider):
    """A job put back at the head of the line loses its provider and its slot."""
    assert job_requeue(job=at_provider, reason="provider_down", head=True, attempt=2)
    at_provider.refresh_from_db()
    assert at_provider.status == JobStatus.QUEUED
    assert (at_provider.provider, at_provider.provider_job_id) == ("", "")
    assert round_of(at_provider.line_key) == HEAD_ROUND
    assert at_provider.events.get().detail == {"reason": "provider_down"}
    assert str(at_provider.id) not in slots.holders(provider="p")


@pytest.mark.parametrize("fence", [{"attempt": 1}, {"from_status": JobStatus.DISPATCHING}])
def test_a_job_that_moved_on_keeps_its_place_and_its_slot(at_provider, fence):
    """A late requeue for an older attempt (or state) changes nothing, slot included."""
    stale = Job.objects.get(pk=at_provider.pk)
    assert not job_requeue(job=stale, reason="dispatch_lease_expired", **fence)
    at_provider.refresh_from_db()
    assert at_provider.status == JobStatus.RENDERING and at_provider.provider_job_id == "pred-2"
    assert str(at_provider.id) in slots.holders(provider="p")


def test_a_failure_is_fenced_and_its_message_cut_to_the_column(at_provider):
    """job_fail ignores a job that moved on, and keeps messages within 500 characters."""
    assert not job_fail(job_id=at_provider.id, code="x", message="late", source="test",
                        expect={"attempts": 1}).applied
    assert job_fail(job_id=at_provider.id, code="output_refused", message="m" * 600,
                    source="mirror").applied
    at_provider.refresh_from_db()
    assert at_provider.status == JobStatus.FAILED and len(at_provider.error_message) == 500
    assert at_provider.events.get().detail == {"error": "output_refused"}
