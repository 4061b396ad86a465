"""The create page in Chromium at a laptop's and a phone's width: the style picker by keyboard,
and the photo checked on pick (type, decodability, size) with the message next to the picker."""

from __future__ import annotations

import io

import pytest
from PIL import Image
from playwright.sync_api import expect

from accounts.models import User
from jobs.services.images import MIN_SIDE
from jobs.styles import STYLES
from notifications.tests.conftest import PASSWORD, make_job
from studio.tests.browser import in_thread, login_cookie, shot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
WIDTHS = pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1280", "390"])


@pytest.fixture
def create_page(page, live_app, viewport):
    """The create page, signed in, at the test's viewport."""
    user = in_thread(User.objects.create_user, f"maker{viewport['width']}@example.com", PASSWORD)
    page.context.add_cookies([login_cookie(user, live_app.url)])
    page.set_viewport_size(viewport)
    page.goto(f"{live_app.url}/app/")
    page.wait_for_load_state("networkidle")
    return page


def png(width: int, height: int, frames: int = 1) -> bytes:
    buffer = io.BytesIO()
    images = [Image.new("RGB", (width, height), (40 * i, 120, 200)) for i in range(frames)]
    images[0].save(buffer, "PNG", save_all=frames > 1, append_images=images[1:])
    return buffer.getvalue()


def pick(page, name: str, data: bytes, mime: str = "image/jpeg") -> None:
    page.locator("[data-file]").set_input_files({"name": name, "mimeType": mime, "buffer": data})


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def in_view_and_focused(page, selector: str) -> bool:
    """Waits (a smooth scroll takes a moment) until the element has focus and is on screen."""
    page.wait_for_function("""(selector) => {
        const element = document.querySelector(selector);
        const box = element.getBoundingClientRect();
        return document.activeElement === element && box.top >= 0 && box.bottom <= innerHeight;
    }""", arg=selector)
    return True


@WIDTHS
def test_a_style_is_picked_by_keyboard(create_page, viewport):
    """The styles are a radio group: arrows move the choice, focus is visible, previews show."""
    page = create_page
    radios = page.get_by_role("radio")
    expect(radios).to_have_count(len(STYLES))
    expect(page.get_by_role("group", name="Pick a style")).to_be_visible()
    first, second = list(STYLES.values())[:2]
    expect(page.get_by_role("radio", name=first.title)).to_be_checked()
    page.locator("[data-file]").focus()
    page.keyboard.press("Tab")  # from the photo picker into the group: its checked radio
    expect(page.get_by_role("radio", name=first.title)).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(page.get_by_role("radio", name=second.title)).to_be_checked()
    expect(page.get_by_role("radio", name=second.title)).to_be_focused()
    card = page.locator(f'input[value="{second.slug}"] + .style-card')
    assert card.evaluate("c => getComputedStyle(c).outlineStyle") == "solid"  # visible focus
    assert page.get_by_role("radio", name=second.title).get_attribute("aria-describedby")
    page.wait_for_function("""(slug) => {  // the picked style's preview loop plays
        const video = document.querySelector(`input[value="${slug}"] + .style-card video`);
        return !video.paused && video.currentTime > 0 && video.videoWidth === 240;
    }""", arg=second.slug)
    posters = page.locator("[data-style-preview]")
    assert all(posters.nth(i).evaluate("v => v.poster.endsWith('.jpg')")
               for i in range(len(STYLES)))
    assert fits_the_screen(page)
    shot(page, f"create-styles-{viewport['width']}")


@WIDTHS
def test_a_text_file_named_jpg_is_refused_next_to_the_picker(create_page, viewport):
    page = create_page
    pick(page, "notes.jpg", b"Shopping list: milk, eggs, neon paint.\n" * 20)
    message = page.locator("[data-photo-message]")
    expect(message).to_have_text("“notes.jpg” is not a JPEG, PNG or WebP photo. Pick a photo "
                                  "of your face.")
    expect(page.get_by_role("button", name="Generate")).to_be_disabled()
    expect(page.locator("[data-preview]")).to_be_hidden()  # no broken image
    assert in_view_and_focused(page, "[data-photo-message]")
    assert fits_the_screen(page)
    shot(page, f"create-not-an-image-{viewport['width']}")


@WIDTHS
def test_a_tiny_image_is_refused_with_the_servers_minimum(create_page, viewport):
    page = create_page
    pick(page, "tiny.png", png(50, 50), "image/png")
    expect(page.locator("[data-photo-message]")).to_have_text(
        f"That photo is 50 × 50 pixels: too small. Its shortest side must be at least "
        f"{MIN_SIDE} pixels.")
    expect(page.get_by_role("button", name="Generate")).to_be_disabled()
    assert in_view_and_focused(page, "[data-photo-message]")
    shot(page, f"create-too-small-{viewport['width']}")


@WIDTHS
def test_a_good_photo_is_ok_and_enables_generate(create_page, viewport):
    page = create_page
    pick(page, "tiny.png", png(50, 50), "image/png")
    expect(page.get_by_role("button", name="Generate")).to_be_disabled()
    page.get_by_role("button", name="Try it with a sample selfie").click()
    expect(page.locator("[data-photo-message]")).to_have_text("Photo OK: 512 × 512 pixels.")
    expect(page.get_by_role("button", name="Generate")).to_be_enabled()
    expect(page.locator("[data-preview]")).to_be_visible()
    assert fits_the_screen(page)
    shot(page, f"create-photo-ok-{viewport['width']}")


@pytest.mark.parametrize("viewport", [PHONE], ids=["390"])
def test_a_photo_the_server_refuses_is_explained_next_to_the_picker(create_page, viewport):
    """The server stays the authority: an animated PNG passes the page's checks, the upload is
    refused, and its message lands next to the photo, in view and focused, Generate disabled."""
    page = create_page
    pick(page, "moving.png", png(300, 300, frames=2), "image/png")
    expect(page.get_by_role("button", name="Generate")).to_be_enabled()
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("[data-photo-message]")).to_have_text(
        "Animated images are not supported. Upload a still photo.")
    expect(page.get_by_role("button", name="Generate")).to_be_disabled()
    assert in_view_and_focused(page, "[data-photo-message]")
    shot(page, f"create-server-refused-{viewport['width']}")


@pytest.mark.parametrize("viewport", [PHONE], ids=["390"])
def test_a_refused_job_is_explained_in_view_and_focused(create_page, viewport, settings):
    """After Generate, an error about the job (here the fair-use quota, a 429) is brought into
    view and focused on a phone, not left below the fold; Generate works again."""
    limit = settings.MAX_ACTIVE_JOBS_PER_USER
    user = in_thread(User.objects.get, email=f"maker{viewport['width']}@example.com")
    in_thread(lambda: [make_job(user) for _ in range(limit)])
    page = create_page
    page.get_by_role("button", name="Try it with a sample selfie").click()
    expect(page.locator("[data-photo-message]")).to_have_text("Photo OK: 512 × 512 pixels.")
    page.evaluate("window.scrollTo(0, 0)")
    page.get_by_role("button", name="Generate").click()
    expect(page.locator("[data-error]")).to_have_text(
        f"You already have {limit} videos in progress. Wait for one to finish, then try again.")
    assert in_view_and_focused(page, "[data-error]")
    expect(page.get_by_role("button", name="Generate")).to_be_enabled()
    shot(page, f"create-job-refused-{viewport['width']}")


@pytest.mark.parametrize("viewport", [LAPTOP], ids=["1280"])
def test_previews_stay_still_for_reduced_motion(create_page, viewport):
    """With reduced motion asked for, picking a style shows its poster; nothing plays."""
    page = create_page
    page.emulate_media(reduced_motion="reduce")
    slug = list(STYLES)[2]
    page.locator(f'input[value="{slug}"] + .style-card').click()
    expect(page.locator(f'input[value="{slug}"]')).to_be_checked()
    # play() flips `paused` at once, in the change handler that ran with the click: no wait.
    assert page.locator("[data-style-preview]").evaluate_all("vs => vs.every(v => v.paused)")
