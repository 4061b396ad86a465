"""django-q2 entry points: take a notification id, load it, send one email or its pushes."""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.urls import reverse
from pywebpush import WebPushException

from common.email import send_branded_email
from common.links import public_url
from common.outbound import UnresolvableURL, UnsafeURL
from jobs.presenter import job_page_path
from notifications.deliveries.webpush import push_send
from notifications.models import Notification, NotificationKind, PushSubscription

logger = logging.getLogger(__name__)
GONE = (404, 410)  # the push service forgot the subscription: stop using it


ACTION_LABELS = {NotificationKind.JOB_SUCCEEDED: "Watch your video",
                 NotificationKind.JOB_FAILED: "See what happened"}


def notification_send_email(notification_id: int) -> bool:
    """Email the user about a finished job (a branded email, text and HTML), unless they turned
    emails off."""
    notification = Notification.objects.select_related("user").get(pk=notification_id)
    user = notification.user
    if not user.email_notifications or not user.email:
        return False
    send_branded_email(to=user.email, subject=notification.title, template="emails/job_finished",
                       context={"title": notification.title, "body": notification.body,
                                "action_url": public_url(job_page_path(notification.job_id)),
                                "action_label": ACTION_LABELS.get(notification.kind, "Open Surge"),
                                "settings_url": public_url(reverse("notification-settings"))})
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
