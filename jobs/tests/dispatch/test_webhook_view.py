"""POST /webhooks/<provider>/: verify first, de-duplicate, apply, answer fast."""

import json
import uuid
from datetime import datetime, timezone

import pytest
from django.test import Client
from standardwebhooks.webhooks import Webhook

from jobs.dispatch import redis as dispatch_redis
from jobs.dispatch import slots
from jobs.dispatch.wakeup import WAKE_LIST
from jobs.models import Job, JobStatus, WebhookInbox
from jobs.ops import counters
from jobs.services import provider_events
from jobs.services.provider_events import job_apply_waiting_webhooks
from launcher.embedded import DEV_PROVIDER_WEBHOOK_SECRET


def signed(body: dict, *, secret=DEV_PROVIDER_WEBHOOK_SECRET, msg_id=None):
    payload = json.dumps(body)
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    now = datetime.now(tz=timezone.utc)
    signature = Webhook(secret).sign(msg_id, now, payload)
    headers = {"HTTP_WEBHOOK_ID": msg_id, "HTTP_WEBHOOK_TIMESTAMP": str(int(now.timestamp())),
               "HTTP_WEBHOOK_SIGNATURE": signature}
    return payload, headers


def prediction(job_id, status="processing", logs=" 40%|####      | 20/50", output=None):
    return {"id": job_id, "status": status, "logs": logs, "output": output, "error": None,
            "model": "a/b", "version": "v", "input": {}, "created_at": "2026-11-27T10:00:00Z",
            "started_at": "2026-11-27T10:00:01Z", "completed_at": None, "urls": {},
            "metrics": {}}


@pytest.fixture
def submitted_job(transactional_db, django_user_model):
    user = django_user_model.objects.create_user("w@example.com", "x-Strong-Pass-99")
    return Job.objects.create(user=user, style="cyberpunk-hero", status=JobStatus.SUBMITTED,
                              provider="primary", provider_job_id="pred123", last_seq=0)


def test_a_signed_webhook_moves_the_job(client, replicate_settings, submitted_job):
    body, headers = signed(prediction("pred123"))
    response = client.post("/webhooks/primary/", body, content_type="application/json",
                           **headers)
    assert response.status_code == 200
    submitted_job.refresh_from_db()
    assert submitted_job.status == JobStatus.RENDERING
    assert submitted_job.progress == pytest.approx(0.4)


def test_a_duplicate_delivery_is_acknowledged_and_ignored(client, replicate_settings,
                                                          submitted_job):
    body, headers = signed(prediction("pred123"), msg_id="msg_fixed")
    for _ in range(3):
        assert client.post("/webhooks/primary/", body, content_type="application/json",
                           **headers).status_code == 200
    assert WebhookInbox.objects.filter(duplicate=False).count() == 1
    # The inbox shows every delivery: the two repeats are flagged, and applied nothing.
    repeats = WebhookInbox.objects.filter(duplicate=True)
    assert [(row.event_id, row.result, row.verified) for row in repeats] == [
        ("msg_fixed", "duplicate", True)] * 2
    assert submitted_job.events.count() == 1
    assert counters.totals(counters.WEBHOOKS) == {"verified": 1, "duplicate": 2}  # /metrics


def test_a_late_event_never_regresses_a_job(client, replicate_settings, submitted_job):
    later, headers = signed(prediction("pred123", logs=" 90%|#########  | 45/50"))
    client.post("/webhooks/primary/", later, content_type="application/json", **headers)
    earlier, headers = signed(prediction("pred123", status="starting", logs=""))
    client.post("/webhooks/primary/", earlier, content_type="application/json", **headers)
    submitted_job.refresh_from_db()
    assert submitted_job.status == JobStatus.RENDERING
    assert submitted_job.progress == pytest.approx(0.9)


@pytest.mark.parametrize("tamper", ["body", "secret", "missing"])
def test_bad_signatures_are_refused_and_change_nothing(client, replicate_settings,
                                                       submitted_job, tamper):
    body, headers = signed(prediction("pred123"),
                           secret="whsec_" + "QUJD" * 8 if tamper == "secret" else
                           DEV_PROVIDER_WEBHOOK_SECRET)
    if tamper == "body":
        body = body.replace("processing", "succeeded")
    if tamper == "missing":
        headers.pop("HTTP_WEBHOOK_SIGNATURE")
    response = client.post("/webhooks/primary/", body, content_type="application/json",
                           **headers)
    assert response.status_code in (400, 403)
    assert set(response.json()) == {"message", "extra"}
    submitted_job.refresh_from_db()
    assert submitted_job.status == JobStatus.SUBMITTED
    # Kept for operators, with the reason, and never applied.
    refused = WebhookInbox.objects.get()
    assert (refused.verified, refused.result, refused.event_id) == (False, "refused", "")
    assert refused.refusal.startswith("primary: ")
    assert refused.payload["id"] == "pred123" or "body_excerpt" in refused.payload
    if response.status_code == 403:
        assert counters.totals(counters.WEBHOOKS) == {"refused": 1}  # /metrics


def test_unknown_provider_is_404(client, replicate_settings, transactional_db):
    assert client.post("/webhooks/nobody/", "{}", content_type="application/json"
                       ).status_code == 404


def test_oversized_bodies_are_refused(client, replicate_settings, transactional_db):
    response = client.post("/webhooks/primary/", "x" * (1024 * 1024 + 10),
                           content_type="application/json")
    assert response.status_code == 413


def test_webhooks_need_no_csrf_token(replicate_settings, submitted_job):
    body, headers = signed(prediction("pred123"))
    response = Client(enforce_csrf_checks=True).post(
        "/webhooks/primary/", body, content_type="application/json", **headers)
    assert response.status_code == 200


def test_a_signed_payload_with_nul_characters_is_stored_not_a_500(client, replicate_settings,
                                                                  submitted_job):
    """PostgreSQL refuses NUL in text and jsonb; the inbox must still take the event."""
    body, headers = signed({**prediction("pred123"), "logs": "bad\u0000log 40%|####| 20/50",
                            "note": "a literal \\u0000 stays"},
                           msg_id="msg_\u0000nul")
    response = client.post("/webhooks/primary/", body, content_type="application/json",
                           **headers)
    assert response.status_code == 200
    inbox = WebhookInbox.objects.get()
    assert "\x00" not in inbox.event_id
    assert "\x00" not in json.dumps(inbox.payload, ensure_ascii=False)
    assert inbox.payload["note"] == "a literal \\u0000 stays"


def test_a_webhook_that_beats_the_submission_is_applied_when_it_is_recorded(
        client, replicate_settings, submitted_job):
    """Fast renders can report before our "submitted" commit: no waiting for the poller."""
    Job.objects.filter(pk=submitted_job.pk).update(status=JobStatus.DISPATCHING,
                                                   provider_job_id="")
    body, headers = signed(prediction("pred123"))
    assert client.post("/webhooks/primary/", body, content_type="application/json",
                       **headers).status_code == 200
    assert WebhookInbox.objects.get().result == "unknown"
    Job.objects.filter(pk=submitted_job.pk).update(status=JobStatus.SUBMITTED,
                                                   provider_job_id="pred123")
    assert job_apply_waiting_webhooks(provider="primary", provider_job_id="pred123") == 1
    submitted_job.refresh_from_db()
    assert submitted_job.status == JobStatus.RENDERING
    assert WebhookInbox.objects.get().result == "applied"
    # Applied once: the submit path running again finds nothing waiting.
    assert job_apply_waiting_webhooks(provider="primary", provider_job_id="pred123") == 0


def test_the_submission_the_webhook_url_names_is_kept_with_the_event(
        client, replicate_settings, submitted_job):
    """?ref= in the webhook URL (the submission it was made for) is stored in the inbox, cut to
    its column; the event is applied as usual."""
    body, headers = signed(prediction("pred123"))
    assert client.post(f"/webhooks/primary/?ref={submitted_job.id}.1", body,
                       content_type="application/json", **headers).status_code == 200
    assert WebhookInbox.objects.get().reference == f"{submitted_job.id}.1"
    body, headers = signed(prediction("pred123", logs=" 60%|######    | 30/50"))
    client.post("/webhooks/primary/?ref=" + "x" * 100, body, content_type="application/json",
                **headers)
    assert {len(ref) for ref in WebhookInbox.objects.values_list("reference", flat=True)} == {
        len(f"{submitted_job.id}.1"), 64}
    submitted_job.refresh_from_db()
    assert submitted_job.progress == pytest.approx(0.6)


@pytest.mark.parametrize("status", ["succeeded", "failed", "canceled"])
def test_a_render_that_ended_frees_its_slot_before_the_job_is_written(
        client, replicate_settings, submitted_job, monkeypatch, status):
    """The provider's slot is free the moment it says the render ended: the next job goes out
    while this one's news is still being written (the drain's slot utilisation)."""
    slots.resync(provider="primary")  # the job the database says is at the provider holds one
    assert slots.holders(provider="primary") == {str(submitted_job.id)}
    wake = dispatch_redis.key(WAKE_LIST)
    dispatch_redis.client().delete(wake)
    seen = []
    real_apply = provider_events.job_apply_provider_event

    def apply(**kwargs):
        seen.append((slots.holders(provider="primary"), dispatch_redis.client().llen(wake)))
        return real_apply(**kwargs)
    monkeypatch.setattr(provider_events, "job_apply_provider_event", apply)
    body, headers = signed(prediction("pred123", status=status, logs="",
                                      output="https://cdn.example/out.mp4"))
    assert client.post("/webhooks/primary/", body, content_type="application/json",
                       **headers).status_code == 200
    assert seen and seen[0] == (set(), 1)  # freed, and the dispatcher woken, before the write
    submitted_job.refresh_from_db()
    assert submitted_job.status != JobStatus.SUBMITTED


def test_news_of_a_render_still_running_keeps_its_slot(client, replicate_settings,
                                                       submitted_job):
    slots.resync(provider="primary")
    body, headers = signed(prediction("pred123"))
    assert client.post("/webhooks/primary/", body, content_type="application/json",
                       **headers).status_code == 200
    assert slots.holders(provider="primary") == {str(submitted_job.id)}
