"""In Chromium at 1280 and 390 px: the ETA wording of a cold start, Surge's 404 page, the
skip link and the Sign up pill's contrast."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import User
from common.memo import forget_all
from jobs.eta import MEASURED_KEY
from jobs.models import Job, JobStatus
from notifications.sockets.queue_broadcast import wait_for_trailing_broadcasts
from notifications.tests.conftest import PASSWORD, make_job
from studio.tests.browser import VIEWPORTS, in_thread, login_cookie, shot, step

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

SECONDS = re.compile(r"[Aa]bout (\d+) s\b")


def measured_history(user, *, boot: float, render: float) -> None:
    """Three finished jobs on the local provider: the first booted it for `boot` s."""
    start = timezone.now() - timedelta(minutes=10)
    for index in range(3):
        job = make_job(user)
        warming = start + timedelta(seconds=1) if index == 0 else None
        rendering = warming + timedelta(seconds=boot) if warming else None
        Job.objects.filter(pk=job.id).update(
            status=JobStatus.SUCCEEDED, provider="local", dispatched_at=start,
            warming_at=warming, first_progress_at=rendering,
            finished_at=start + timedelta(seconds=render + (boot if index == 0 else 0)))
    # Measured (by the line's broadcasts, in this process) before these finished: forget it.
    wait_for_trailing_broadcasts()
    forget_all()
    cache.delete(MEASURED_KEY)


def left(page) -> int:
    """The seconds the page promises, from the stage (in line) or the detail line."""
    text = page.locator("[data-stage]").text_content() + " / " + page.locator(
        "[data-detail]").text_content()
    match = SECONDS.search(text.replace("first video takes about", ""))
    assert match, text
    return int(match.group(1))


@pytest.mark.parametrize("width", list(VIEWPORTS))
def test_a_cold_start_says_so_with_the_measured_boot_and_the_estimate_never_grows(
        page, live_app, width):
    """Measured here: a 12 s boot and 5 s renders. Nothing rendered lately, so the line already
    promises the boot (17 s), and 'Starting the renderer' raises nothing."""
    user = in_thread(User.objects.create_user, f"eta-{width}@example.com", PASSWORD)
    in_thread(measured_history, user, boot=12, render=5)
    job = in_thread(make_job, user)
    page.context.add_cookies([login_cookie(user, live_app.url)])
    page.set_viewport_size(VIEWPORTS[width])
    page.goto(f"{live_app.url}/app/jobs/{job.id}/")
    stage = page.locator("[data-stage]")
    expect(stage).to_have_text(re.compile(r"In line — position 1, about 1[67] s"))
    queued = left(page)
    shot(page, f"eta-queued-{width}")
    page.wait_for_function("() => window.surgeJob?.socket?.ws?.readyState === 1")
    step(job, "dispatching", fields={"provider": "local", "attempts": 1})
    step(job, "submitted")
    step(job, "warming")
    expect(stage).to_have_text("Starting the renderer (first video takes about 12 s)")
    expect(page.locator("[data-announce]")).to_have_text(
        "Starting the renderer (first video takes about 12 s)")
    warming = left(page)
    assert warming <= queued
    shot(page, f"eta-warming-{width}")
    step(job, "rendering", progress=0.5)
    expect(stage).to_have_text("Rendering 50 %")
    assert left(page) <= warming
    shot(page, f"eta-rendering-{width}")


@pytest.mark.parametrize("width", list(VIEWPORTS))
def test_someone_elses_job_is_surges_404_page_with_a_way_home(page, live_app, width):
    """On `make run` (DEBUG on) too: no yellow technical page."""
    owner = in_thread(User.objects.create_user, f"owner-{width}@example.com", PASSWORD)
    stranger = in_thread(User.objects.create_user, f"stranger-{width}@example.com", PASSWORD)
    job = in_thread(make_job, owner)
    page.context.add_cookies([login_cookie(stranger, live_app.url)])
    page.set_viewport_size(VIEWPORTS[width])
    response = page.goto(f"{live_app.url}/app/jobs/{job.id}/")
    assert response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("We can't find that page")
    expect(page.get_by_role("link", name="My videos").last).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[width]["width"]
    shot(page, f"error-404-{width}")
    page.get_by_role("link", name="Back to Surge").click()
    expect(page).to_have_url(f"{live_app.url}/app/")  # signed in: home is the studio


def luminance(rgb: tuple[int, int, int]) -> float:
    channels = [value / 255 for value in rgb]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(one, two) -> float:
    high, low = sorted((luminance(one), luminance(two)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def colors(css: str) -> list[tuple[int, int, int]]:
    return [tuple(int(n) for n in match) for match in
            re.findall(r"rgba?\((\d+), (\d+), (\d+)", css)]


@pytest.mark.parametrize("scheme", ["dark", "light"])
@pytest.mark.parametrize("width", list(VIEWPORTS))
def test_the_sign_up_pill_reads_at_4_5_to_1_on_every_colour_of_its_gradient(
        chromium, live_app, width, scheme):
    """It was light text on cyan (1.3:1) to magenta (2.7:1). axe leaves text on a gradient for
    review, so the colours are checked here, in either colour scheme."""
    context = chromium.new_context(color_scheme=scheme, viewport=VIEWPORTS[width])
    try:
        page = context.new_page()
        page.goto(f"{live_app.url}/accounts/login/")
        pill = page.locator(".topnav a", has_text="Sign up")
        style = pill.evaluate("e => { const s = getComputedStyle(e); "
                              "return { color: s.color, background: s.backgroundImage }; }")
        text, stops = colors(style["color"])[0], colors(style["background"])
        assert len(stops) >= 2, style
        # Every stop, and the sRGB midpoint of each pair (the gradient passes through it).
        midpoints = [tuple((a + b) // 2 for a, b in zip(one, two, strict=True))
                     for one, two in zip(stops, stops[1:], strict=False)]
        ratios = [contrast(text, stop) for stop in stops + midpoints]
        assert min(ratios) >= 4.5, (style, ratios)
    finally:
        context.close()


@pytest.mark.parametrize("width", list(VIEWPORTS))
def test_the_skip_link_is_the_first_tab_stop_and_moves_focus_to_the_content(page, live_app,
                                                                           width):
    page.set_viewport_size(VIEWPORTS[width])
    page.goto(f"{live_app.url}/")
    skip = page.get_by_role("link", name="Skip to content")
    page.keyboard.press("Tab")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    shot(page, f"skip-link-{width}")
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.goto(f"{live_app.url}/accounts/login/")  # its email field has the focus already
    email = page.locator("input[name=username]")
    assert email.get_attribute("type") == "email"
    assert email.get_attribute("autocomplete") == "email"
