"""Sharing in Chromium at a laptop's and a phone's size: Share makes the /v/… link (the share
sheet where the browser has one, the clipboard otherwise), the page works signed out, and Stop
sharing kills the link. The video has controls and waits for a tap under reduced motion."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.models import User
from jobs.tests.finished import finished_job
from notifications.tests.conftest import PASSWORD
from studio.tests.browser import VIEWPORTS, in_thread, login_cookie, shot, tiny_mp4

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SHARE_URL = r"/v/[A-Za-z0-9_-]{22}/$"


def video_ready(page, selector: str) -> None:
    page.wait_for_function(f"""() => {{ const v = document.querySelector('{selector}');
        return v && !v.hidden && v.readyState >= 2 && v.videoWidth > 0; }}""", timeout=30_000)


def owner_with_video(live_app, email: str):
    user = in_thread(User.objects.create_user, email, PASSWORD)
    job = in_thread(finished_job, user, poster=True, video=tiny_mp4(width=256, height=320))
    return user, job


@pytest.mark.parametrize("size", VIEWPORTS)
def test_share_copies_the_public_link_which_works_signed_out_until_turned_off(
        page, chromium, live_app, csp_violations, size):
    """Without a share sheet (desktop Chromium) Share copies the /v/… link; a signed-out
    visitor sees the video, its style and "Make your own"; Stop sharing makes the link 404."""
    user, job = owner_with_video(live_app, f"share-{size}@example.com")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_app.url)
    page.context.add_cookies([login_cookie(user, live_app.url)])
    page.set_viewport_size(VIEWPORTS[size])
    page.goto(f"{live_app.url}/app/jobs/{job.id}/")
    assert page.evaluate("navigator.share === undefined")  # the clipboard path, as on desktops
    video_ready(page, "[data-video]")
    expect(page.locator("[data-shared]")).to_be_hidden()
    page.locator("[data-share]").click()
    expect(page.locator("[data-note]")).to_contain_text("Link copied")
    link = page.locator("[data-share-link]")
    expect(link).to_have_text(re.compile(SHARE_URL))
    url = page.evaluate("navigator.clipboard.readText()")
    assert url == link.text_content() and url.startswith(live_app.url)
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[size]["width"]
    shot(page, f"share-{size}-job-shared")

    visitor = chromium.new_context(viewport=VIEWPORTS[size])  # signed out, no cookies
    try:
        public = visitor.new_page()
        public.on("console", lambda message: csp_violations.append(message.text)
                  if "Content Security Policy" in message.text else None)
        response = public.goto(url)
        assert response.status == 200
        expect(public.locator("h1")).to_have_text("Cyberpunk hero")
        expect(public.locator("[data-cta]")).to_have_attribute("href", "/accounts/signup/")
        assert public.locator("[data-shared-video]").evaluate("v => v.controls")
        poster = public.evaluate("""async () => {
            const response = await fetch(document.querySelector('meta[property="og:image"]').content);
            return [response.status, response.headers.get('content-type')]; }""")
        assert poster == [200, "image/jpeg"]
        public.locator("[data-shared-video]").evaluate("v => v.play()")
        video_ready(public, "[data-shared-video]")
        assert user.email not in public.content()
        assert public.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[size]["width"]
        shot(public, f"share-{size}-public-page")

        page.locator("[data-unshare]").click()
        expect(page.locator("[data-note]")).to_have_text("Sharing is off: the link no longer works.")
        expect(page.locator("[data-shared]")).to_be_hidden()
        assert public.goto(url).status == 404
    finally:
        visitor.close()


def test_phones_get_the_share_sheet_with_the_public_link(page, live_app):
    """Where the browser has the Web Share API, Share opens it with the /v/… link."""
    user, job = owner_with_video(live_app, "sheet@example.com")
    page.add_init_script("navigator.share = async (data) => { window.sharedData = data; }")
    page.context.add_cookies([login_cookie(user, live_app.url)])
    page.set_viewport_size(VIEWPORTS["phone"])
    page.goto(f"{live_app.url}/app/jobs/{job.id}/")
    page.locator("[data-share]").click()
    page.wait_for_function("() => window.sharedData")
    shared = page.evaluate("window.sharedData")
    assert shared["url"] == page.locator("[data-share-link]").text_content()
    assert "/v/" in shared["url"] and str(job.id) not in shared["url"]


def test_under_reduced_motion_the_video_waits_for_play(page, live_app):
    """prefers-reduced-motion: the video shows with its controls, paused, not autoplaying."""
    user, job = owner_with_video(live_app, "calm@example.com")
    page.emulate_media(reduced_motion="reduce")
    page.context.add_cookies([login_cookie(user, live_app.url)])
    page.goto(f"{live_app.url}/app/jobs/{job.id}/")
    video_ready(page, "[data-video]")
    assert page.locator("[data-video]").evaluate("v => v.controls && v.paused")
