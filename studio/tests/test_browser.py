"""The job page in Chromium against a live web server: stages appear live as the job moves."""

from __future__ import annotations

import re
import time

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from playwright.sync_api import expect

from accounts.models import User
from notifications.tests.conftest import PASSWORD, make_job
from studio.tests.browser import in_thread, login_cookie, shot, step, tiny_mp4

COLD_START_40 = "Starting the renderer (first video takes about 40 s)"
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def socket_open(page):
    page.wait_for_function("() => window.surgeJob?.socket?.ws?.readyState === 1")


def test_job_page_shows_each_stage_live_then_plays_the_video(page, live_app):
    """In line → warming → rendering % → saving → the video plays, with no layout shift."""
    user = in_thread(User.objects.create_user, "ada@example.com", PASSWORD)
    job = in_thread(make_job, user, width=512, height=640)
    page.context.add_cookies([login_cookie(user, live_app.url)])
    page.set_viewport_size({"width": 1200, "height": 900})
    page.goto(f"{live_app.url}/app/jobs/{job.id}/")
    stage = page.locator("[data-stage]")
    expect(stage).to_have_text("In line — position 1, about 2 min")  # no provider warm yet
    socket_open(page)
    box = page.locator("[data-screen]").bounding_box()
    shot(page, "ui-1-queued")

    step(job, "dispatching")
    step(job, "warming")
    expect(stage).to_have_text(COLD_START_40)
    expect(page.locator("[data-announce]")).to_have_text(COLD_START_40)
    shot(page, "ui-2-warming")
    step(job, "rendering", progress=0.42)
    expect(stage).to_have_text("Rendering 42 %")
    expect(page.locator("[data-progress]")).to_have_attribute("aria-valuenow", "42")
    shot(page, "ui-3-rendering")

    # The socket drops mid-job; what happens meanwhile arrives on resume (?after=<seq>).
    page.evaluate("window.surgeJob.socket.ws.close()")
    step(job, "saving")
    expect(stage).to_have_text("Saving your video")
    socket_open(page)
    shot(page, "ui-4-saving")

    key = in_thread(default_storage.save, f"videos/test-{job.id}.mp4", ContentFile(tiny_mp4()))
    step(job, "succeeded", fields={"output_key": key})
    expect(stage).to_have_text("Your video is ready")
    page.wait_for_function("""() => { const v = document.querySelector('[data-video]');
        return !v.hidden && v.readyState >= 2 && v.videoWidth > 0; }""", timeout=15000)
    video = page.locator("[data-video]")
    assert video.evaluate("v => v.controls && v.muted && v.loop && v.playsInline && !v.paused")
    assert page.locator("[data-screen]").bounding_box() == box  # no layout shift
    expect(page.locator("[data-download]")).to_be_visible()
    expect(page.locator("[data-share]")).to_be_visible()
    expect(page.locator("[data-cancel]")).to_be_hidden()
    expect(page.locator("[data-bell-count]")).to_have_text("1")  # the notification, live
    shot(page, "ui-5-succeeded")


def test_a_failed_job_says_why_and_offers_retry_at_phone_width(page, live_app):
    """At 360 px the page fits the screen; a failure shows its reason and a Retry button that
    opens the new job."""
    user = in_thread(User.objects.create_user, "bo@example.com", PASSWORD)
    job = in_thread(make_job, user)
    page.context.add_cookies([login_cookie(user, live_app.url)])
    page.set_viewport_size({"width": 360, "height": 780})
    page.goto(f"{live_app.url}/app/jobs/{job.id}/")
    socket_open(page)
    expect(page.locator("[data-cancel]")).to_be_visible()
    step(job, "dispatching")
    step(job, "failed", fields={"error_code": "provider_error",
                                "error_message": "The renderer ran out of memory."})
    expect(page.locator("[data-error]")).to_have_text("The renderer ran out of memory.")
    expect(page.locator("[data-retry]")).to_be_visible()
    expect(page.locator("[data-cancel]")).to_be_hidden()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot(page, "ui-phone-failed")
    with page.expect_navigation():  # to the new job's page, at the URL the API gave
        page.locator("[data-retry]").click()
    assert re.fullmatch(rf"{live_app.url}/app/jobs/[0-9a-f-]{{36}}/", page.url), page.url
    assert str(job.id) not in page.url
    page.goto(f"{live_app.url}/app/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot(page, "ui-phone-create")
    page.goto(f"{live_app.url}/app/videos/")
    expect(page.locator(f'[data-job="{job.id}"] [data-badge]')).to_have_text("Failed")
    shot(page, "ui-phone-videos")
    page.goto(f"{live_app.url}/app/settings/")
    expect(page.locator("[data-push-toggle]")).to_have_text(re.compile("Turn on push"))
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot(page, "ui-phone-settings")


def test_another_users_job_page_is_not_found(page, live_app):
    owner = in_thread(User.objects.create_user, "cy@example.com", PASSWORD)
    stranger = in_thread(User.objects.create_user, "di@example.com", PASSWORD)
    job = in_thread(make_job, owner)
    page.context.add_cookies([login_cookie(stranger, live_app.url)])
    response = page.goto(f"{live_app.url}/app/jobs/{job.id}/")
    assert response.status == 404


def test_without_websockets_the_page_polls_and_cancel_works(page, live_app):
    """A browser (or proxy) without WebSocket still follows the job through the status URL."""
    user = in_thread(User.objects.create_user, "ed@example.com", PASSWORD)
    job = in_thread(make_job, user)
    page.add_init_script("delete window.WebSocket")
    page.context.add_cookies([login_cookie(user, live_app.url)])
    page.goto(f"{live_app.url}/app/jobs/{job.id}/")
    expect(page.locator("[data-connection]")).to_contain_text("checking every few seconds")
    step(job, "dispatching")
    step(job, "warming")
    expect(page.locator("[data-stage]")).to_have_text(COLD_START_40)
    page.locator("[data-cancel]").click()
    expect(page.locator("[data-stage]")).to_have_text("Canceled")
    expect(page.locator("[data-retry]")).to_be_visible()


def test_a_csp_violation_is_caught(page, live_app, csp_violations):
    """The CSP is in force and the page fixture notices what it blocks (here: an inline script
    and an image from elsewhere, as injected markup would try)."""
    response = page.goto(f"{live_app.url}/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    blocked = page.evaluate("""() => new Promise((resolve) => {
        const seen = [];
        document.addEventListener("securitypolicyviolation", (event) => {
            seen.push(event.effectiveDirective);
            if (seen.length === 2) resolve(seen.sort());
        });
        const script = document.createElement("script");
        script.textContent = "window.injected = true";
        document.body.append(script);
        document.body.insertAdjacentHTML("beforeend", '<img src="https://cdn.example/x.png">');
    })""")
    assert blocked == ["img-src", "script-src-elem"]
    assert page.evaluate("window.injected") is None
    deadline = time.monotonic() + 30
    while len(csp_violations) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(50)  # Playwright delivers the console events meanwhile
    assert any("inline script" in text for text in csp_violations), csp_violations
    assert any("img-src" in text for text in csp_violations), csp_violations
    csp_violations.clear()  # expected here; any other test fails on them


def test_api_docs_render_offline_from_our_own_files(page, live_app):
    """Swagger UI comes from our static files (no CDN), under the CSP, on a machine without
    internet: every request stays on our origin and the operations are listed."""
    requests = []
    page.on("request", lambda request: requests.append(request.url))
    page.goto(f"{live_app.url}/api/docs/")
    expect(page.locator(".swagger-ui .opblock-summary-path").first).to_be_visible()
    expect(page.get_by_text("/api/v1/jobs/", exact=True).first).to_be_visible()
    foreign = [url for url in requests if not url.startswith(live_app.url)
               and not url.startswith(("data:", "blob:"))]
    assert foreign == []
    shot(page, "ui-api-docs")
