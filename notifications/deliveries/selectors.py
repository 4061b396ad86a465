"""Every read of notifications: the list, the unread count, the payload clients get."""

from __future__ import annotations

from django.db.models import F, QuerySet

from jobs.presenter import job_page_path
from notifications.models import Notification


def notification_list_for_user(*, user, unread_first: bool = False) -> QuerySet[Notification]:
    notifications = Notification.objects.filter(user=user)
    if unread_first:
        return notifications.order_by(F("read_at").asc(nulls_first=True), "-created_at", "-id")
    return notifications.order_by("-created_at", "-id")


def notification_unread_count(*, user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notification_payload(notification: Notification) -> dict:
    return {
        "id": notification.id, "kind": notification.kind, "title": notification.title,
        "body": notification.body,
        "job_id": str(notification.job_id) if notification.job_id else None,
        "url": job_page_path(notification.job_id) if notification.job_id else None,
        "read_at": notification.read_at.isoformat() if notification.read_at else None,
        "created_at": notification.created_at.isoformat(),
    }
