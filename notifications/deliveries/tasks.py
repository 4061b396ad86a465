"""django-q2 entry points: take a notification id, load it, send one email or its pushes."""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.urls import reverse
from pywebpush import WebPushException

from common.outbound import UnresolvableURL, UnsafeURL
from jobs.presenter import job_page_path
from notifications.deliveries.webpush import push_send
from notifications.models import Notification, PushSubscription

logger = logging.getLogger(__name__)
GONE = (404, 410)  # the push service forgot the subscription: stop using it


def _absolute(path: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}{path}"


def notification_send_email(notification_id: int) -> bool:
    """Email the user about a finished job, unless they turned emails off."""
    notification = Notification.objects.select_related("user").get(pk=notification_id)
    user = notification.user
    if not user.email_notifications or not user.email:
        return False
    body = (f"{notification.body}\n\n{_absolute(job_page_path(notification.job_id))}\n\n"
            f"You can turn these emails off at {_absolute(reverse('notification-settings'))}")
    send_mail(f"Surge: {notification.title}", body, settings.DEFAULT_FROM_EMAIL, [user.email])
    return True


def notification_send_push(notification_id: int) -> int:
    """Push to every browser the user subscribed; returns how many accepted it."""
    if not (settings.VAPID_PUBLIC_KEY and settings.VAPID_PRIVATE_KEY):
        return 0
    notification = Notification.objects.get(pk=notification_id)
    data = json.dumps({"title": notification.title, "body": notification.body,
                       "url": job_page_path(notification.job_id), "tag": str(notification.job_id)})
    sent = 0
    for subscription in PushSubscription.objects.filter(user_id=notification.user_id):
        try:
            push_send(endpoint=subscription.endpoint, p256dh=subscription.p256dh,
                      auth=subscription.auth, data=data)
            sent += 1
        except UnresolvableURL as error:  # DNS may be back next time
            logger.warning("push to %s skipped: %s", subscription.endpoint[:60], error)
        except UnsafeURL as error:  # saved before endpoints were checked, or now private
            logger.warning("push subscription %s removed: %s", subscription.pk, error)
            subscription.delete()
        except WebPushException as error:
            status = getattr(error.response, "status_code", None)
            if status in GONE:
                subscription.delete()
            else:
                logger.warning("push to %s failed: %s", subscription.endpoint[:60], error)
        except Exception:  # one bad endpoint must not stop the others
            logger.warning("push to %s failed", subscription.endpoint[:60], exc_info=True)
    return sent
