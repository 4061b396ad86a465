"""Every read of notifications: the list, the unread count, the payload clients get."""

from __future__ import annotations

from django.db.models import F, QuerySet

from jobs.presenter import job_page_path
from jobs.selectors import job_poster_url, selfie_thumbnail_url
from jobs.styles import style_title
from notifications.models import Notification


def notification_list_for_user(*, user, unread_first: bool = False) -> QuerySet[Notification]:
    notifications = Notification.objects.filter(user=user).select_related("job__selfie")
    if unread_first:
        return notifications.order_by(F("read_at").asc(nulls_first=True), "-created_at", "-id")
    return notifications.order_by("-created_at", "-id")


def notification_unread_count(*, user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def notification_thumbnail_url(notification: Notification) -> str | None:
    """A frame of the finished video, else the selfie it was made from (signed, short-lived)."""
    job = notification.job
    if job is None:
        return None
    return job_poster_url(job) or selfie_thumbnail_url(job.selfie)


def notification_payload(notification: Notification) -> dict:
    job = notification.job
    return {
        "id": notification.id, "kind": notification.kind, "title": notification.title,
        "body": notification.body,
        "style": job.style if job else None,
        "style_title": style_title(job.style) if job else None,
        "thumbnail_url": notification_thumbnail_url(notification),
        "job_id": str(notification.job_id) if notification.job_id else None,
        "url": job_page_path(notification.job_id) if notification.job_id else None,
        "read_at": notification.read_at.isoformat() if notification.read_at else None,
        "created_at": notification.created_at.isoformat(),
    }
