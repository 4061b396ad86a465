"""The read side the API composes: stage text, provider availability."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from jobs.models import BreakerState, Job, JobStatus, ProviderState
from jobs.selectors import job_stage_text, providers_all_unavailable
from jobs.stages import PROVIDERS_BUSY

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_providers(settings):
    settings.PROVIDERS = {"a": {}, "b": {}}


def test_providers_without_state_rows_are_available(two_providers):
    assert providers_all_unavailable() is False


def test_all_unavailable_when_each_is_disabled_paused_or_open(two_providers):
    ProviderState.objects.create(name="a", enabled=False)
    state = ProviderState.objects.create(name="b",
                                         paused_until=timezone.now() + timedelta(minutes=1))
    assert providers_all_unavailable() is True
    state.paused_until = timezone.now() - timedelta(seconds=1)
    state.save()
    providers_all_unavailable.forget()  # it is remembered for a second
    assert providers_all_unavailable() is False
    state.breaker_state = BreakerState.OPEN
    state.save()
    providers_all_unavailable.forget()
    assert providers_all_unavailable() is True


def test_stage_text_for_a_queued_job(two_providers):
    job = Job(status=JobStatus.QUEUED, stage="In line")
    assert job_stage_text(job=job, position=0) == "In line — position 1"
    assert job_stage_text(job=job, position=4, providers_unavailable=True) == PROVIDERS_BUSY
    rendering = Job(status=JobStatus.RENDERING, stage="Rendering")
    assert job_stage_text(job=rendering, position=None) == "Rendering"
