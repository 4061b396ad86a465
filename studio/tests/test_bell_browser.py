"""The bell's list in Chromium at a laptop's and a phone's size: each notification names its
style, shows a frame of the video and how long ago; a click navigates at once and the read mark
follows in the background."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import User
from jobs.tests.finished import finished_job
from notifications.models import Notification
from notifications.tests.conftest import PASSWORD
from studio.tests.browser import VIEWPORTS, in_thread, login_cookie, shot, tiny_mp4

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def two_finished_videos(email: str):
    """Two videos whose notifications (made by the jobs' success) are 2 hours apart."""
    user = User.objects.create_user(email, PASSWORD)
    older, newer = (finished_job(user, poster=True, video=tiny_mp4()) for _ in range(2))
    Notification.objects.filter(job=older).update(created_at=timezone.now() - timedelta(hours=2))
    return user, older, newer


def read_at(job):
    return Notification.objects.get(job=job).read_at


@pytest.mark.parametrize("size", VIEWPORTS)
def test_the_bell_tells_videos_apart_and_a_click_goes_at_once(page, live_app, size):
    user, older, newer = in_thread(two_finished_videos, f"bell-{size}@example.com")
    page.context.add_cookies([login_cookie(user, live_app.url)])
    page.set_viewport_size(VIEWPORTS[size])
    page.goto(f"{live_app.url}/app/videos/")
    expect(page.locator("[data-bell-count]")).to_have_text("2")
    page.locator("[data-bell-toggle]").click()
    items = page.locator("[data-bell-list] li")
    expect(items).to_have_count(2)
    expect(items.nth(0).locator("strong")).to_have_text("Your Cyberpunk hero video is ready")
    expect(items.nth(0).locator("time")).to_have_text("just now")
    expect(items.nth(1).locator("time")).to_have_text("2 h ago")
    page.wait_for_function("""() => [...document.querySelectorAll('[data-bell-list] img')]
        .filter((img) => img.complete && img.naturalWidth > 0).length === 2""")
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[size]["width"]
    shot(page, f"bell-{size}-list")

    # The read mark is held back until the page has gone: navigation does not wait for it.
    held = []
    page.context.route("**/api/v1/notifications/*/read/", lambda route: held.append(route))
    with page.expect_navigation(url=f"{live_app.url}/app/jobs/{older.id}/"):
        items.nth(1).locator("a").click()
    expect(page.locator("[data-stage]")).to_have_text("Your video is ready")
    assert len(held) == 1 and in_thread(read_at, older) is None
    held[0].continue_()  # sent with keepalive: it outlives the page that sent it
    deadline = time.monotonic() + 30
    while in_thread(read_at, older) is None and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert in_thread(read_at, older) is not None
    assert in_thread(read_at, newer) is None
