"""Deleting in Chromium, at desktop and phone widths: a video from the gallery, a photo from My
photos, and the whole account (signed out after; its objects gone from the real S3)."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from playwright.sync_api import expect

from accounts.models import User
from jobs import s3
from jobs.dispatch.mirror import output_key
from jobs.models import Job, Selfie
from jobs.services.jobs import job_enqueue
from jobs.services.transitions import job_transition
from jobs.tests.conftest import s3_keys
from notifications.tests.conftest import PASSWORD
from studio.tests.browser import VIEWPORTS, in_thread, login_cookie, shot, tiny_mp4

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@pytest.fixture(params=list(VIEWPORTS))
def width(request, page):
    page.set_viewport_size(VIEWPORTS[request.param])
    return request.param


def new_user() -> User:
    return in_thread(User.objects.create_user, f"{uuid.uuid4().hex[:8]}@example.com", PASSWORD)


def succeeded_job(user, selfie) -> Job:
    def make():
        job = job_enqueue(user=user, selfie=selfie, style="cyberpunk-hero")
        job_transition(job_id=job.id, status="dispatching", source="test")
        key = default_storage.save(output_key(job, 1), ContentFile(tiny_mp4()))
        return job_transition(job_id=job.id, status="succeeded", source="test",
                              fields={"output_key": key}).job
    return in_thread(make)


def sign_in(page, live_app, user) -> None:
    page.context.add_cookies([login_cookie(user, live_app.url)])


def fits(page, width: str) -> None:
    """Nothing sticks out sideways."""
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[width]["width"]


def test_delete_a_video_from_the_gallery(page, live_app, width, make_selfie):
    """Delete → a confirmation → the tile is gone, and so is the video in S3."""
    user = new_user()
    selfie = in_thread(make_selfie, user)
    job, kept = succeeded_job(user, selfie), succeeded_job(user, selfie)
    sign_in(page, live_app, user)
    page.goto(f"{live_app.url}/app/videos/")
    tile = page.locator(f'[data-job="{job.id}"]')
    expect(tile.locator("[data-delete]")).to_be_visible()
    fits(page, width)
    shot(page, f"delete-1-gallery-{width}")
    tile.locator("[data-delete]").click()
    expect(page.locator("h1")).to_have_text("Delete this video?")
    fits(page, width)
    shot(page, f"delete-2-confirm-video-{width}")
    page.locator("[data-confirm-delete]").click()
    expect(page.locator(".messages")).to_contain_text("Deleted the Cyberpunk hero video.")
    expect(tile).to_have_count(0)
    expect(page.locator(f'[data-job="{kept.id}"]')).to_be_visible()
    shot(page, f"delete-3-gallery-after-{width}")
    assert not in_thread(Job.objects.filter(pk=job.id).exists)
    assert job.output_key not in in_thread(s3_keys, s3.user_prefix(s3.VIDEOS, user.pk))
    assert kept.output_key in in_thread(s3_keys, s3.user_prefix(s3.VIDEOS, user.pk))


def test_a_finished_video_offers_delete_on_its_page(page, live_app, width, make_selfie):
    user = new_user()
    job = succeeded_job(user, in_thread(make_selfie, user))
    sign_in(page, live_app, user)
    page.goto(f"{live_app.url}/app/jobs/{job.id}/")
    expect(page.locator(".job [data-delete]")).to_be_visible()
    fits(page, width)
    shot(page, f"delete-0-job-page-{width}")
    page.locator(".job [data-delete]").click()
    page.locator("[data-confirm-delete]").click()
    expect(page).to_have_url(f"{live_app.url}/app/videos/")
    assert not in_thread(Job.objects.filter(pk=job.id).exists)


def test_delete_a_photo(page, live_app, width, make_selfie):
    """From the account page to My photos; a photo a running video uses is refused (409)."""
    user = new_user()
    spare, busy = in_thread(make_selfie, user), in_thread(make_selfie, user)
    in_thread(job_enqueue, user=user, selfie=busy, style="cyberpunk-hero")
    sign_in(page, live_app, user)
    page.goto(f"{live_app.url}/app/")
    page.locator("header .account").click()
    expect(page.locator("h1")).to_have_text("Account")
    fits(page, width)
    shot(page, f"delete-4-account-{width}")
    page.get_by_role("link", name="My photos").click()
    expect(page.locator("[data-photo]")).to_have_count(2)
    expect(page.locator(f'[data-photo="{busy.id}"] [data-in-use]')).to_have_text("In use")
    expect(page.locator(f'[data-photo="{spare.id}"] [data-in-use]')).to_have_count(0)
    fits(page, width)
    shot(page, f"delete-5-photos-{width}")

    page.locator(f'[data-photo="{busy.id}"] .tile-delete').click()
    page.locator("[data-confirm-delete]").click()
    expect(page.locator("[data-delete-error]")).to_contain_text("used by a video in progress")
    shot(page, f"delete-6-photo-in-use-{width}")

    page.goto(f"{live_app.url}/app/photos/")
    page.locator(f'[data-photo="{spare.id}"] .tile-delete').click()
    page.locator("[data-confirm-delete]").click()
    expect(page.locator(".messages")).to_contain_text("Deleted the photo.")
    expect(page.locator("[data-photo]")).to_have_count(1)
    assert not in_thread(Selfie.objects.filter(pk=spare.id).exists)
    assert not ({spare.image.name, spare.thumbnail.name}
                & in_thread(s3_keys, s3.user_prefix(s3.SELFIES, user.pk)))


def test_delete_the_account(page, live_app, width, make_selfie):
    """A wrong password is refused; the right one ends signed out with every object gone."""
    user = new_user()
    succeeded_job(user, in_thread(make_selfie, user))
    prefixes = [s3.user_prefix(kind, user.pk) for kind in s3.USER_PREFIXES]
    assert any(in_thread(s3_keys, prefix) for prefix in prefixes)
    sign_in(page, live_app, user)
    page.goto(f"{live_app.url}/app/account/")
    page.get_by_role("link", name="Delete account…").click()
    password = page.get_by_label("Enter your password to confirm")
    password.fill("not-my-password")
    page.locator("[data-confirm-delete]").click()
    expect(page.locator("#password-error")).to_have_text("The password is incorrect.")
    fits(page, width)
    shot(page, f"delete-7-account-wrong-password-{width}")

    password.fill(PASSWORD)
    page.locator("[data-confirm-delete]").click()
    expect(page).to_have_url(f"{live_app.url}/")
    expect(page.locator(".messages")).to_contain_text("Your account and everything in it")
    expect(page.get_by_role("link", name="Log in")).to_be_visible()
    fits(page, width)
    shot(page, f"delete-8-account-deleted-{width}")
    page.goto(f"{live_app.url}/app/")
    expect(page).to_have_url(f"{live_app.url}/accounts/login/?next=/app/")
    assert not in_thread(User.objects.filter(pk=user.pk).exists)
    assert not any(in_thread(s3_keys, prefix) for prefix in prefixes)
