"""The notifications API: list, mark read, settings, push subscriptions; errors share one shape."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from jobs.tests.finished import finished_job
from notifications.models import Notification, PushSubscription
from notifications.tests.conftest import make_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def api(token):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client


def notify(user, title="Your video is ready", read=False):
    return Notification.objects.create(user=user, job=make_job(user), kind="job_succeeded",
                                       title=title, read_at=timezone.now() if read else None)


def test_list_is_newest_first_and_counts_unread(api, user, other_user):
    """Only the user's notifications, newest first, with the unread count."""
    old, new = notify(user, "old", read=True), notify(user, "new")
    notify(other_user, "not yours")
    body = api.get("/api/v1/notifications/").json()
    assert [n["id"] for n in body["results"]] == [new.id, old.id]
    assert body["unread_count"] == 1 and body["next"] is None
    assert body["results"][0]["url"] == f"/app/jobs/{new.job_id}/"
    unread = api.get("/api/v1/notifications/?unread=1").json()
    assert [n["id"] for n in unread["results"]] == [new.id]


def test_list_is_cursor_paginated(api, user):
    """Twenty per page; `next` leads to the rest."""
    for index in range(23):
        notify(user, f"n{index}")
    first = api.get("/api/v1/notifications/").json()
    assert len(first["results"]) == 20 and first["next"]
    second = api.get(first["next"]).json()
    assert len(second["results"]) == 3 and second["previous"]


def test_mark_one_and_all_read(api, user):
    """Marking read returns the new unread count."""
    first, _second, _third = notify(user), notify(user), notify(user)
    response = api.post(f"/api/v1/notifications/{first.id}/read/")
    assert response.status_code == 200
    assert response.json()["unread_count"] == 2 and response.json()["notification"]["read_at"]
    response = api.post("/api/v1/notifications/read-all/")
    assert response.json() == {"marked": 2, "unread_count": 0}
    assert not Notification.objects.filter(read_at__isnull=True).exists()


def test_someone_elses_notification_is_404_in_the_shared_error_shape(api, other_user):
    """Reading another user's notification looks exactly like reading a missing one."""
    theirs = notify(other_user)
    for notification_id in (theirs.id, 999999):
        response = api.post(f"/api/v1/notifications/{notification_id}/read/")
        assert response.status_code == 404
        assert response.json() == {"message": "No such notification.", "extra": {}}
    assert Notification.objects.get(pk=theirs.pk).read_at is None


def test_anonymous_requests_are_401():
    response = APIClient().get("/api/v1/notifications/")
    assert response.status_code == 401
    assert set(response.json()) == {"message", "extra"}


def test_email_setting_can_be_turned_off(api, user):
    assert api.get("/api/v1/notifications/settings/").json() == {"email_notifications": True}
    response = api.patch("/api/v1/notifications/settings/", {"email_notifications": False},
                         format="json")
    assert response.json() == {"email_notifications": False}
    user.refresh_from_db()
    assert user.email_notifications is False
    bad = api.patch("/api/v1/notifications/settings/", {"email_notifications": "maybe"},
                    format="json")
    assert bad.status_code == 400 and "email_notifications" in bad.json()["extra"]


PUBLIC_ADDRESS = "93.184.215.14"  # resolved to, never connected to


def test_push_subscribe_and_unsubscribe(api, user, fake_dns):
    """The browser's PushSubscription.toJSON() is stored; unsubscribing deletes it."""
    fake_dns.answer("push.example.net", PUBLIC_ADDRESS)
    key = api.get("/api/v1/push/key/").json()["public_key"]
    assert key and len(key) == 87  # 65-byte uncompressed P-256 point, base64url
    subscription = {"endpoint": "https://push.example.net/send/abc", "expirationTime": None,
                    "keys": {"p256dh": "BPub", "auth": "secret"}}
    assert api.post("/api/v1/push/subscribe/", subscription, format="json").status_code == 201
    assert api.post("/api/v1/push/subscribe/", subscription, format="json").status_code == 201
    stored = PushSubscription.objects.get()
    assert (stored.user, stored.p256dh, stored.auth) == (user, "BPub", "secret")
    bad = api.post("/api/v1/push/subscribe/", {"endpoint": "nope"}, format="json")
    assert bad.status_code == 400 and set(bad.json()) == {"message", "extra"}
    response = api.post("/api/v1/push/unsubscribe/", {"endpoint": subscription["endpoint"]},
                        format="json")
    assert response.status_code == 204 and not PushSubscription.objects.exists()


@pytest.mark.parametrize("endpoint", [
    "http://127.0.0.1:{port}/push/1",            # this machine, plain http
    "http://127.0.0.1:{redis}/",                 # the embedded Redis
    "https://127.0.0.1:{port}/push/1",
    "https://localhost/push/1",                  # a name for loopback
    "https://loopback.example.net/push/1",       # a public-looking name for loopback
    "https://[::1]/push/1",
    "https://[::ffff:127.0.0.1]/push/1",
    "https://10.1.2.3/push/1",
    "https://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://push.example.net/push/1",            # public, but not https
    "https://user:pw@push.example.net/push/1",
    "https://nowhere.invalid/push/1",            # does not resolve
])
def test_push_endpoints_must_be_https_on_public_addresses(api, fake_dns, settings, endpoint):
    """The worker POSTs to the endpoint when a job ends, so only https on a public address is
    accepted (no server-side request forgery into this machine or its network)."""
    fake_dns.answer("push.example.net", PUBLIC_ADDRESS)
    fake_dns.answer("loopback.example.net", "127.0.0.1")
    redis_port = settings.REDIS_URL.rsplit(":", 1)[1].split("/")[0]
    keys = {"p256dh": "BPub", "auth": "secret"}
    response = api.post("/api/v1/push/subscribe/", {
        "endpoint": endpoint.format(port=8000, redis=redis_port), "keys": keys}, format="json")
    assert response.status_code == 400, response.json()
    assert "endpoint" in response.json()["extra"]
    assert not PushSubscription.objects.exists()


def test_a_listed_private_push_host_is_allowed_for_development(api, settings):
    """PUSH_ALLOWED_PRIVATE_HOSTS (development and tests only) lets a local push server in."""
    settings.PUSH_ALLOWED_PRIVATE_HOSTS = ["127.0.0.1:8999"]
    keys = {"p256dh": "BPub", "auth": "secret"}
    assert api.post("/api/v1/push/subscribe/", {"endpoint": "http://127.0.0.1:8999/p",
                                                "keys": keys}, format="json").status_code == 201
    assert api.post("/api/v1/push/subscribe/", {"endpoint": "http://127.0.0.1:8998/p",
                                                "keys": keys}, format="json").status_code == 400


def test_session_clients_need_the_csrf_header(user):
    """The browser calls the same API with its session; without the CSRF token it's refused."""
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post("/api/v1/notifications/read-all/")
    assert response.status_code == 403 and set(response.json()) == {"message", "extra"}


def test_schema_documents_the_notification_endpoints(api):
    schema = api.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    assert "/api/v1/notifications/{notification_id}/read/" in paths
    assert "404" in paths["/api/v1/notifications/{notification_id}/read/"]["post"]["responses"]


def test_unread_filter_must_be_a_boolean(api, user):
    notify(user)
    assert len(api.get("/api/v1/notifications/?unread=false").json()["results"]) == 1
    assert "unread" in api.get("/api/v1/notifications/?unread=maybe").json()["extra"]
    assert api.get("/api/v1/notifications/?unread=maybe").status_code == 400


def test_settings_patch_is_partial(api, user):
    """PATCH with no fields changes nothing (the schema marks every field optional)."""
    response = api.patch("/api/v1/notifications/settings/", {}, format="json")
    assert response.status_code == 200 and response.json() == {"email_notifications": True}


@pytest.mark.parametrize(("method", "path"), [
    ("post", "/api/v1/push/subscribe/"), ("post", "/api/v1/push/unsubscribe/"),
    ("patch", "/api/v1/notifications/settings/"), ("post", "/api/v1/auth/token/"),
])
def test_json_apis_refuse_forms_with_415(api, method, path):
    """Forms cannot carry these bodies (nested keys, booleans): only JSON is documented."""
    response = getattr(api, method)(path, {"endpoint": "https://push.example/1"},
                                    format="multipart")
    assert response.status_code == 415 and set(response.json()) == {"message", "extra"}


@pytest.mark.parametrize(("path", "body"), [
    ("/api/v1/notifications/settings/", {"email_notifications": 0}),
    ("/api/v1/notifications/settings/", {"email_notifications": "false"}),
    ("/api/v1/push/subscribe/", {"endpoint": "https://push.example/1",
                                 "keys": {"p256dh": 1, "auth": 2}}),
    ("/api/v1/auth/token/", {"email": 1, "password": ["x"]}),
])
def test_json_bodies_take_only_the_documented_types(api, path, body):
    """DRF would coerce 0 to False and 1 to "1"; the schema says boolean and string."""
    method = api.patch if path.endswith("settings/") else api.post
    response = method(path, body, format="json")
    assert response.status_code == 400 and set(response.json()) == {"message", "extra"}
    assert not PushSubscription.objects.exists()


def test_each_notification_names_its_style_with_a_thumbnail(api, user):
    """The bell tells videos apart: style, a frame of the video (else the selfie), a time."""
    from_selfie = notify(user)  # a job without a stored poster: its selfie's thumbnail
    video = finished_job(user, poster=True)
    from_video = Notification.objects.create(user=user, job=video, kind="job_succeeded",
                                             title="Your Cyberpunk hero video is ready")
    results = {item["id"]: item for item in api.get("/api/v1/notifications/").json()["results"]}
    assert results[from_video.id]["style"] == "cyberpunk-hero"
    assert results[from_video.id]["style_title"] == "Cyberpunk hero"
    assert f"/{video.poster_key}?" in results[from_video.id]["thumbnail_url"]
    assert f"/selfies/{user.pk}-thumb.jpg?" in results[from_selfie.id]["thumbnail_url"]
    assert results[from_video.id]["created_at"]


def test_the_list_reads_its_jobs_in_one_query(api, user, django_assert_max_num_queries):
    """Twenty notifications with thumbnails do not cost a query each."""
    for _ in range(5):
        notify(user)
    with django_assert_max_num_queries(8):
        assert len(api.get("/api/v1/notifications/").json()["results"]) == 5
