"""Fixtures for notifications tests: users, jobs created as the API creates them, websockets."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token

from accounts.models import User
from jobs.models import Job, Selfie
from jobs.services.jobs import job_enqueue

PASSWORD = "neon-Skyline-4821"


@pytest.fixture
def user(db):
    return User.objects.create_user("ada@example.com", PASSWORD)


@pytest.fixture
def other_user(db):
    return User.objects.create_user("bob@example.com", PASSWORD)


@pytest.fixture
def token(user):
    return Token.objects.create(user=user).key


def make_job(user, *, style: str = "cyberpunk-hero", width: int = 512, height: int = 640) -> Job:
    """A queued job with its first event, committed the way job_create commits it."""
    selfie = Selfie.objects.create(user=user, image=f"selfies/{user.pk}.jpg",
                                   thumbnail=f"selfies/{user.pk}-thumb.jpg", width=width,
                                   height=height)
    return job_enqueue(user=user, selfie=selfie, style=style)


@pytest.fixture
def job_factory():
    return make_job


# Debian's Chromium (never a downloaded browser), quiet and offline.
CHROMIUM = {"executable_path": "/usr/bin/chromium",
            "args": ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run",
                     "--disable-quic", "--autoplay-policy=no-user-gesture-required"]}


@pytest.fixture(scope="module")
def chromium(django_db_setup):
    """One browser per module. Not pytest-playwright's session-wide one: sync Playwright keeps
    an event loop running in the main thread, where Django then refuses ORM calls, so it must
    stop before the next module's tests."""
    from playwright.sync_api import expect, sync_playwright

    # expect() gives up after 5 s by default, which a busy machine can miss (a page polling
    # every 2 s); a generous wait only costs time when something is broken.
    expect.set_options(timeout=30_000)
    with pytest.MonkeyPatch.context() as patch:
        # pytest-django flushes the database in this thread; test bodies use browser.in_thread.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(**CHROMIUM)
            yield browser
            browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context()
    yield context.new_page()
    context.close()
