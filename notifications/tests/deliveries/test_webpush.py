"""Web Push goes only where it may: checked at send time, pinned to the checked address, and
never following a redirect (no server-side request forgery through push endpoints)."""

from __future__ import annotations

import pytest

from notifications.deliveries.services import push_subscription_save
from notifications.deliveries.tasks import notification_send_push
from notifications.models import Notification, PushSubscription
from notifications.tests.conftest import PushService, browser_keys, make_job

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def service():
    service = PushService(201)
    yield service
    service.close()


@pytest.fixture
def notification(user):
    job = make_job(user)
    return Notification.objects.create(user=user, job=job, kind="job_succeeded", title="Ready")


def subscribe(user, endpoint: str) -> PushSubscription:
    p256dh, auth = browser_keys()
    return PushSubscription.objects.create(user=user, endpoint=endpoint, p256dh=p256dh, auth=auth)


def test_a_stored_private_endpoint_gets_nothing_and_is_removed(user, notification, service):
    """A subscription saved before endpoints were checked, pointing at this machine, is never
    POSTed to at send time, and is deleted."""
    subscribe(user, service.endpoint)
    assert notification_send_push(notification.id) == 0
    assert service.received == []
    assert not PushSubscription.objects.exists()


def test_a_name_that_turns_private_after_subscribing_gets_nothing(user, notification, fake_dns,
                                                                  service):
    """DNS rebinding: public when subscribed, loopback when the push is sent: refused."""
    fake_dns.answer("push.example.net", "93.184.215.14", "127.0.0.1")
    p256dh, auth = browser_keys()
    push_subscription_save(user=user, endpoint=f"https://push.example.net:{service.port}/push/1",
                           p256dh=p256dh, auth=auth)
    assert notification_send_push(notification.id) == 0
    assert service.received == []
    assert not PushSubscription.objects.exists()


def test_the_push_connects_to_the_address_that_was_checked(user, notification, fake_dns,
                                                           service, settings):
    """The name is resolved once; the POST goes to that address under the original name, so
    a second, different DNS answer is never used."""
    settings.PUSH_ALLOWED_PRIVATE_HOSTS = [f"push.test:{service.port}"]
    fake_dns.answer("push.test", "127.0.0.1", None)  # then the name stops resolving
    subscribe(user, f"http://push.test:{service.port}/push/1")
    assert notification_send_push(notification.id) == 1
    assert fake_dns.lookups == ["push.test"]
    headers, body = service.received[0]
    assert headers["host"] == f"push.test:{service.port}"
    assert headers["authorization"].startswith("vapid t=") and body


def test_redirects_are_not_followed(user, notification, settings):
    """A push service answering 307 to somewhere else does not make us POST there."""
    elsewhere = PushService(201)
    redirecting = PushService(307, headers={"Location": elsewhere.endpoint})
    try:
        settings.PUSH_ALLOWED_PRIVATE_HOSTS = [redirecting.host, elsewhere.host]
        subscribe(user, redirecting.endpoint)
        assert notification_send_push(notification.id) == 0
        assert len(redirecting.received) == 1
        assert elsewhere.received == []
        assert PushSubscription.objects.exists()  # not gone, only not delivered
    finally:
        redirecting.close()
        elsewhere.close()
