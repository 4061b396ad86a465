"""End to end in Chromium against the whole app as `make run` starts it: the web server, the task
worker, the dispatcher and the local provider rendering a real video."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from project.testing.live_app import LiveApp
from studio.tests.browser import ARTIFACTS, shot

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
RANK = {"queued": 0, "dispatching": 1, "submitted": 2, "warming": 3, "rendering": 4,
        "saving": 5, "succeeded": 6}


@pytest.fixture(scope="module")
def app(django_db_setup):
    live = LiveApp(full=True)
    yield live
    live.stop()


def sign_up(page, base_url: str, email: str) -> None:
    page.goto(f"{base_url}/accounts/signup/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("neon-Skyline-4821")
    page.get_by_role("button", name="Sign up").click()
    expect(page).to_have_url(f"{base_url}/app/")


def test_selfie_to_video_in_the_browser(page, chromium, app):
    """Sign up, try the sample selfie, watch every stage, survive a dropped socket, play the
    video; another user gets a 404 for that job."""
    for old in ARTIFACTS.glob("e2e-*.png"):
        old.unlink(missing_ok=True)  # another copy of the suite may have taken it
    page.set_viewport_size({"width": 1200, "height": 900})
    sign_up(page, app.url, "e2e@example.com")
    page.get_by_role("button", name="Try it with a sample selfie").click()
    expect(page.locator("[data-preview]")).to_be_visible()
    shot(page, "e2e-0-create")
    page.get_by_role("button", name="Generate").click()
    page.wait_for_url(re.compile(r".*/app/jobs/[0-9a-f-]{36}/$"), timeout=60_000)
    job_url = page.url

    seen, dropped = [], False
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        status = page.evaluate("window.surgeJob?.state.status")
        if status and (not seen or seen[-1] != status):
            seen.append(status)
            shot(page, f"e2e-{len(seen)}-{status}")
        if status in ("failed", "canceled"):
            break
        if status == "rendering" and not dropped:
            page.evaluate("window.surgeJob.socket.ws.close()")  # a socket lost mid-job
            dropped = True
        if status == "succeeded":
            break
        page.wait_for_timeout(100)
    assert seen[-1] == "succeeded", (seen, app.log("dispatcher"), app.log("worker"))
    assert dropped, seen
    history = page.evaluate("window.surgeJob.history")
    assert [RANK[s] for s in history] == sorted(RANK[s] for s in history)  # never backwards
    assert {"rendering", "succeeded"} <= set(history)
    page.wait_for_function("""() => { const v = document.querySelector('[data-video]');
        return !v.hidden && v.readyState >= 2 && v.videoWidth > 0; }""", timeout=60_000)
    expect(page.locator("[data-stage]")).to_have_text("Your video is ready")
    expect(page.locator("[data-bell-count]")).to_have_text("1")
    page.wait_for_timeout(600)  # let the progress bar's transition finish for the screenshot
    shot(page, "e2e-9-video")
    page.locator("[data-bell-toggle]").click()
    expect(page.locator("[data-bell-list] a")).to_contain_text("Your Cyberpunk hero video is ready")
    shot(page, "e2e-10-bell")
    page.goto(f"{app.url}/app/videos/")
    expect(page.locator("[data-badge]")).to_have_text("Ready")
    shot(page, "e2e-11-videos")
    page.set_viewport_size({"width": 360, "height": 780})
    page.goto(job_url)
    page.wait_for_function("() => document.querySelector('[data-video]').readyState >= 2")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot(page, "e2e-12-phone-video")

    stranger = chromium.new_context()
    other = stranger.new_page()
    sign_up(other, app.url, "stranger@example.com")
    assert other.goto(job_url).status == 404
    stranger.close()
