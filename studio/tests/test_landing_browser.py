"""The landing page in Chromium at a laptop's and a phone's width: the sample before/after (the
bundled selfie and the video the local provider made of it), the three steps, the call to action."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from jobs.styles import STYLES
from studio.tests.browser import shot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.mark.parametrize("viewport", [{"width": 1280, "height": 800}, {"width": 390, "height": 844}],
                         ids=["1280", "390"])
def test_the_landing_page_shows_a_sample_result_and_three_steps(page, live_app, viewport):
    page.set_viewport_size(viewport)
    page.goto(f"{live_app.url}/")
    before = page.get_by_role("img", name="Before: a smiling astronaut")
    expect(before).to_be_visible()
    page.wait_for_function("() => document.querySelector('[data-sample-before]').naturalWidth > 0")
    page.wait_for_function("""() => { const v = document.querySelector('[data-sample-after]');
        return v.readyState >= 2 && v.videoWidth > 0 && !v.paused && v.currentTime > 0; }""")
    assert page.locator("[data-sample-after]").evaluate("v => v.muted && v.loop")
    steps = page.get_by_role("region", name="Three steps").get_by_role("listitem")
    expect(steps.first).to_contain_text("Upload a selfie")
    expect(page.get_by_text("Pick a style.")).to_be_visible()
    expect(page.get_by_text("Get your video.")).to_be_visible()
    expect(page.get_by_role("list", name="The styles").get_by_role("listitem")).to_have_count(
        len(STYLES))
    cta = page.get_by_role("link", name="Create your video")
    expect(cta).to_be_in_viewport()  # the call to action is above the fold
    assert cta.get_attribute("href") == "/accounts/signup/"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, f"landing-{viewport['width']}")
    page.get_by_role("button", name="Pause the sample video").click()
    assert page.locator("[data-sample-after]").evaluate("v => v.paused")
    expect(page.get_by_role("button", name="Play the sample video")).to_be_visible()
