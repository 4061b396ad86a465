"""In-app notifications and Web Push subscriptions."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class NotificationKind(models.TextChoices):
    JOB_SUCCEEDED = "job_succeeded", "Video ready"
    JOB_FAILED = "job_failed", "Video failed"


class Notification(models.Model):
    """One message to one user; at most one per job and kind, whichever path finished the job."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="notifications")
    job = models.ForeignKey("jobs.Job", null=True, blank=True, on_delete=models.CASCADE,
                            related_name="notifications")
    kind = models.CharField(max_length=32, choices=NotificationKind.choices)
    title = models.CharField(max_length=200)
    body = models.CharField(max_length=500, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at", "-created_at"],
                                name="notification_user_unread")]
        constraints = [models.UniqueConstraint(fields=["job", "kind"],
                                               name="notification_once_per_job_kind")]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}"


class PushSubscription(models.Model):
    """A browser's Web Push endpoint and keys (from PushSubscription.toJSON())."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="push_subscriptions")
    endpoint = models.URLField(max_length=1000, unique=True)
    p256dh = models.CharField(max_length=200)
    auth = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"push for {self.user_id}"
