"""Surge's 404, 403 and 500 pages: branded, a way home, no inline script, DEBUG on or off."""

from __future__ import annotations

import json
import re

import pytest
from django.test import RequestFactory

from accounts.models import User
from notifications.tests.conftest import PASSWORD, make_job
from project import views

pytestmark = pytest.mark.django_db


@pytest.fixture
def user(db):
    return User.objects.create_user("ada@example.com", PASSWORD)


@pytest.fixture
def other_user(db):
    return User.objects.create_user("bob@example.com", PASSWORD)


def assert_surge_page(html: str, heading: str) -> None:
    assert heading in html and 'href="/"' in html and "Back to Surge" in html
    assert "Skip to content" in html  # the site's layout, not Django's bare page
    assert "technical" not in html.lower() and "URLconf" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "an inline script"
    assert " style=" not in html, "an inline style"


@pytest.mark.parametrize("debug", [False, True])
def test_someone_elses_job_is_surges_404_with_debug_on_or_off(client, settings, user,
                                                              other_user, debug):
    settings.DEBUG = debug
    job = make_job(other_user)
    client.force_login(user)
    response = client.get(f"/app/jobs/{job.id}/")
    assert response.status_code == 404
    assert_surge_page(response.content.decode(), "We can't find that page")
    assert 'href="/app/videos/"' in response.content.decode()  # signed in: a way to their own


@pytest.mark.parametrize("debug", [False, True])
def test_an_unknown_page_is_surges_404_and_an_unknown_api_url_stays_json(client, settings,
                                                                         debug):
    settings.DEBUG = debug
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert_surge_page(response.content.decode(), "We can't find that page")
    api = client.get("/api/v1/no-such-thing/")
    assert api.status_code == 404 and api.json()["message"] == "Not found."


def test_an_api_404_for_someone_elses_job_stays_json_in_debug(client, settings, user, other_user):
    settings.DEBUG = True
    job = make_job(other_user)
    client.force_login(user)
    response = client.get(f"/api/v1/jobs/{job.id}/")
    assert response.status_code == 404 and response["Content-Type"].startswith("application/json")


def test_403_and_500_are_surge_pages_and_json_under_the_api(rf: RequestFactory):
    page = views.permission_denied(rf.get("/app/"), None)
    assert page.status_code == 403
    assert_surge_page(page.content.decode(), "That's not yours to open")
    error = views.server_error(rf.get("/app/"))
    assert error.status_code == 500
    assert_surge_page(error.content.decode(), "Something went wrong on our side")
    assert views.permission_denied(rf.get("/api/v1/jobs/"), None)["Content-Type"] == (
        "application/json")


def test_a_page_turned_away_in_a_spike_is_surges_busy_page():
    """What a web process answers (503) to a request that waited past WEB_QUEUE_TIMEOUT."""
    content_type, body = views.busy_page("/app/")
    assert content_type == "text/html; charset=utf-8"
    assert_surge_page(body.decode(), "Surge is very busy right now")


def test_an_api_call_turned_away_in_a_spike_gets_the_api_error_shape():
    content_type, body = views.busy_page("/api/v1/jobs/")
    assert content_type == "application/json"
    assert json.loads(body) == {
        "message": "Surge is very busy right now. Please try again in a moment.", "extra": {}}
