"""Notifications for finished jobs: emitted once, live, by email and by Web Push."""

from __future__ import annotations

import json
from unittest import mock

import pytest
from django.core import mail

from jobs.services.transitions import job_transition
from notifications.deliveries.services import on_job_event
from notifications.deliveries.tasks import notification_send_push
from notifications.models import Notification, PushSubscription
from notifications.tests.conftest import PushService, browser_keys, make_job

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _inline(settings):
    settings.TASKS_RUN_INLINE = True
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"


def finish(job, status="succeeded", **fields):
    if status == "succeeded":
        fields.setdefault("output_key", f"videos/{job.id}.mp4")
    return job_transition(job_id=job.id, status=status, source="test", fields=fields)


def test_a_succeeded_job_notifies_once_in_app_and_by_email(user):
    """Success creates one notification and one email, even if the hook runs again."""
    job = make_job(user)
    transition = finish(job)

    on_job_event(job=transition.job, event=transition.event)  # a replayed hook
    notification = Notification.objects.get()
    assert (notification.user, notification.job_id, notification.kind) == (
        user, job.id, "job_succeeded")
    assert notification.read_at is None
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [user.email]
    assert f"/app/jobs/{job.id}/" in mail.outbox[0].body


def test_the_email_is_branded_with_text_and_html_and_links_on_the_public_url(user, settings):
    """Both parts name the style and link the job page and the settings on PUBLIC_BASE_URL."""
    settings.PUBLIC_BASE_URL = "https://surge.example.com"
    job = make_job(user)
    finish(job)
    [message] = mail.outbox
    assert message.subject == "Surge: Your Cyberpunk hero video is ready"
    [(html, kind)] = message.alternatives
    page, settings_page = (f"https://surge.example.com/app/jobs/{job.id}/",
                           "https://surge.example.com/app/settings/")
    assert kind == "text/html" and f'href="{page}"' in html and f'href="{settings_page}"' in html
    assert "Watch your video" in html and "Cyberpunk hero" in html
    assert f"Watch your video: {page}" in message.body and settings_page in message.body


def test_a_failed_job_says_why_and_canceled_jobs_stay_quiet(user):
    """Failure notifies with the reason; a user's own cancel does not notify."""
    failed, canceled = make_job(user), make_job(user)
    finish(failed, "failed", error_message="The provider timed out.")
    finish(canceled, "canceled")
    notification = Notification.objects.get()
    assert notification.kind == "job_failed" and "timed out" in notification.body
    assert notification.title == "Your Cyberpunk hero video failed"  # which one, at a glance
    assert len(mail.outbox) == 1 and "failed" in mail.outbox[0].subject


def test_email_respects_the_users_choice(user):
    """With email notifications off, the in-app notification still appears but no email."""
    user.email_notifications = False
    user.save()
    finish(make_job(user))
    assert Notification.objects.count() == 1
    assert mail.outbox == []


def test_notifications_are_queued_for_the_worker_when_not_inline(user, settings):
    """Outside tests email and push are enqueued for qcluster, not sent in the transition."""
    settings.TASKS_RUN_INLINE = False
    finish(make_job(user))
    assert Notification.objects.count() == 1
    assert mail.outbox == []


@pytest.mark.parametrize("status, kept", [(201, True), (410, False), (404, False), (500, True)])
def test_push_is_sent_with_vapid_and_gone_subscriptions_are_deleted(user, status, kept,
                                                                     settings):
    """Every subscription gets an encrypted, VAPID-signed push; 404/410 removes it."""
    service = PushService(status)
    settings.PUSH_ALLOWED_PRIVATE_HOSTS = [service.host]
    try:
        p256dh, auth = browser_keys()
        PushSubscription.objects.create(user=user, endpoint=service.endpoint, p256dh=p256dh,
                                        auth=auth)
        finish(make_job(user))
        assert len(service.received) == 1
        headers, body = service.received[0]
        assert headers["authorization"].startswith("vapid t=")
        assert headers["content-encoding"] == "aes128gcm" and body
        assert PushSubscription.objects.exists() is kept
    finally:
        service.close()


def test_push_payload_names_the_job_page(user):
    """The payload the service worker shows links to the job page."""
    captured = {}

    job = make_job(user)
    with mock.patch("notifications.deliveries.services._run_task"):
        finish(job)
    PushSubscription.objects.create(user=user, endpoint="http://127.0.0.1:9/x", p256dh="a",
                                    auth="b")
    with mock.patch("notifications.deliveries.tasks.push_send",
                    side_effect=lambda **kw: captured.update(kw)) as push_send:
        assert notification_send_push(Notification.objects.get().id) == 1
    assert push_send.called
    assert json.loads(captured["data"])["url"] == f"/app/jobs/{job.id}/"
