"""Every write of notifications: emitting them for finished jobs, reading, push subscriptions."""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction
from django.utils import timezone

from common.exceptions import ApplicationError
from common.outbound import UnresolvableURL, UnsafeURL
from common.tasks import enqueue
from jobs.events import publish, user_group
from jobs.models import Job, JobEvent, JobStatus
from jobs.styles import style_title
from notifications.deliveries.selectors import notification_payload, notification_unread_count
from notifications.deliveries.webpush import push_endpoint_check
from notifications.models import Notification, NotificationKind, PushSubscription

logger = logging.getLogger(__name__)

KIND_FOR_STATUS = {JobStatus.SUCCEEDED: NotificationKind.JOB_SUCCEEDED,
                   JobStatus.FAILED: NotificationKind.JOB_FAILED}


def on_job_event(*, job: Job, event: JobEvent) -> None:
    """JOB_EVENT_HOOKS entry: a job that succeeded or failed, by whatever path, notifies once."""
    if event.status in KIND_FOR_STATUS:
        notification_create_for_job(job=job, status=event.status)


def _texts(job: Job, status: str) -> tuple[str, str]:
    """Titles name the style, so two notifications can be told apart at a glance."""
    style = style_title(job.style)
    if status == JobStatus.SUCCEEDED:
        return (f"Your {style} video is ready",
                "Your cinematic video is ready to watch and share.")
    reason = job.error_message or "The renderer could not finish it."
    return f"Your {style} video failed", f"{reason} You can retry it from the job page."


def notification_create_for_job(*, job: Job, status: str) -> Notification | None:
    """The ONE place notifications for finished jobs come from: in-app, live, email and push."""
    title, body = _texts(job, status)
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                user_id=job.user_id, job=job, kind=KIND_FOR_STATUS[status], title=title,
                body=body[:500])
    except IntegrityError:  # already notified (a replayed hook): never twice
        return None
    transaction.on_commit(lambda: _deliver(notification))
    return notification


def _deliver(notification: Notification) -> None:
    _publish(notification.user_id, {
        "type": "notification.created", "notification": notification_payload(notification),
        "unread_count": notification_unread_count(user=notification.user_id)})
    _run_task("notifications.deliveries.tasks.notification_send_email", notification.id)
    _run_task("notifications.deliveries.tasks.notification_send_push", notification.id)


def _run_task(path: str, *args) -> None:
    """Email and push must not block a job's transition: they run in the task worker."""
    try:
        enqueue(path, *args, name=f"{path.rsplit('.', 1)[-1]}-{args[0]}")
    except Exception:  # a lost email or push must never undo or block the job
        logger.warning("could not send %s%s", path, args, exc_info=True)


def _publish(user_id: int, message: dict) -> None:
    try:
        publish([(user_group(user_id), message)])
    except Exception:  # the bell catches up on the next page load or socket snapshot
        logger.warning("could not publish %s for user %s", message["type"], user_id,
                       exc_info=True)


def notification_mark_read(*, user, notification_id: int) -> Notification:
    notification = Notification.objects.get(pk=notification_id, user=user)
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def notification_mark_all_read(*, user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).update(
        read_at=timezone.now())


def push_subscription_save(*, user, endpoint: str, p256dh: str, auth: str) -> PushSubscription:
    """Create or refresh a subscription; an endpoint moves to whoever subscribed it last.

    Only https endpoints on public addresses: the worker POSTs to it (checked again then)."""
    try:
        push_endpoint_check(endpoint)
    except UnresolvableURL:
        raise ApplicationError("The push endpoint's host does not resolve.",
                               extra={"endpoint": ["The host does not resolve."]}) from None
    except UnsafeURL:
        raise ApplicationError(
            "The push endpoint must be an https URL on a public address.",
            extra={"endpoint": ["Must be an https URL on a public address."]}) from None
    subscription, _ = PushSubscription.objects.update_or_create(
        endpoint=endpoint, defaults={"user": user, "p256dh": p256dh, "auth": auth})
    return subscription


def push_subscription_delete(*, user, endpoint: str) -> bool:
    deleted, _ = PushSubscription.objects.filter(user=user, endpoint=endpoint).delete()
    return bool(deleted)
