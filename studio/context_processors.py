"""Template context for the top bar's notification bell."""

from __future__ import annotations

from django.conf import settings

from notifications.deliveries.selectors import notification_unread_count


def notification_centre(request):
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    return {"unread_notifications": notification_unread_count(user=request.user),
            "vapid_public_key": settings.VAPID_PUBLIC_KEY}
