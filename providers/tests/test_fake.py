"""FakeBackend records submissions and plays back scripted outcomes, like locmem email."""

from __future__ import annotations

import pytest

from providers import registry
from providers.backends import fake
from providers.exceptions import PermanentError, RateLimited, TransientError, WebhookSignatureInvalid
from providers.registry import parse_webhook
from providers.tests.conftest import SECRET

ARGS = {"image_url": "http://127.0.0.1:1/s.jpg", "prompt": "p", "style": "s",
        "webhook_url": "http://127.0.0.1:1/hook", "reference": "job-9"}


@pytest.fixture
def backend(settings):
    settings.PROVIDERS = {"fake": {"BACKEND": "providers.backends.fake.FakeBackend",
                                   "WEBHOOK_SECRET": SECRET},
                          "fake2": {"BACKEND": "providers.backends.fake.FakeBackend",
                                    "OUTPUT_URL": "http://127.0.0.1:1/v.mp4"}}
    return registry.get_backend("fake")


def test_submit_is_recorded(backend):
    submission = backend.submit(**ARGS)
    [sent] = fake.outbox
    assert sent.provider_job_id == submission.provider_job_id and sent.reference == "job-9"
    assert submission.event.status == "queued"
    assert backend.fetch_status(submission.provider_job_id).status == "queued"


def test_scripted_errors_are_raised_once_in_order(backend):
    fake.FakeBackend.script(RateLimited("slow", retry_after=2), TransientError("down"))
    with pytest.raises(RateLimited):
        backend.submit(**ARGS)
    with pytest.raises(TransientError):
        backend.submit(**ARGS)
    backend.submit(**ARGS)
    assert len(fake.outbox) == 1


def test_scripts_can_target_one_provider(backend):
    fake.FakeBackend.script(PermanentError("no", code="moderation"), provider="fake2")
    backend.submit(**ARGS)
    with pytest.raises(PermanentError):
        registry.get_backend("fake2").submit(**ARGS)


def test_status_changes_and_cancel(backend):
    job = backend.submit(**ARGS).provider_job_id
    fake.set_status(job, "rendering", progress=0.5)
    assert backend.fetch_status(job).progress == 0.5
    assert backend.cancel(job) is True and fake.canceled == [job]
    assert backend.cancel(job) is False
    with pytest.raises(PermanentError):
        backend.fetch_status("unknown")
    fake.FakeBackend.script(fake.build_event(job, "failed", error_message="x"),
                            operation="fetch_status")
    assert backend.fetch_status(job).status == "failed"


def test_output_url_setting_completes_jobs(backend):
    other = registry.get_backend("fake2")
    job = other.submit(**ARGS).provider_job_id
    event = other.fetch_status(job)
    assert (event.status, event.output_url) == ("succeeded", "http://127.0.0.1:1/v.mp4")


def test_fake_webhooks_round_trip(backend):
    event = fake.build_event("fake-1", "succeeded", output_url="http://127.0.0.1:1/v.mp4")
    headers, body = fake.webhook_request(event, secret=SECRET)
    [parsed] = parse_webhook("fake", headers=headers, body=body)
    assert parsed.status == "succeeded" and parsed.provider == "fake"
    assert parsed.event_id == event.event_id
    with pytest.raises(WebhookSignatureInvalid):
        parse_webhook("fake", headers=headers, body=body + b" ")
