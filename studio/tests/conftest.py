"""Fixtures for the studio's tests: the notifications tests' users and jobs, and a browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect, sync_playwright

# Selfies stored in the real S3, as the jobs tests make them.
from jobs.tests.conftest import make_selfie  # noqa: F401

# The same users and jobs as the notifications tests (pytest finds fixtures by name here).
from notifications.tests.conftest import other_user, user  # noqa: F401
from project.testing.live_app import LiveApp

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

    # expect() gives up after 5 s by default, which a busy machine can miss (a page polling
    # every 2 s; the sample selfie took over 30 s to decode once with two suites at load 20); a
    # generous wait only costs time when something is broken.
    expect.set_options(timeout=60_000)
    with pytest.MonkeyPatch.context() as patch:
        # pytest-django flushes the database in this thread; test bodies use browser.in_thread.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(**CHROMIUM)
            yield browser
            browser.close()


@pytest.fixture(scope="module")
def live_app(django_db_setup):
    """The whole app (web, worker, dispatcher, local provider) for one module's browser tests."""
    app = LiveApp()
    yield app
    app.stop()


@pytest.fixture
def csp_violations() -> list[str]:
    """What Chromium reported as blocked by the Content-Security-Policy during the test."""
    return []


@pytest.fixture
def page(chromium, csp_violations):
    """A fresh page; the test fails if anything on it broke the Content-Security-Policy."""
    context = chromium.new_context()
    page = context.new_page()
    page.on("console", lambda message: csp_violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    yield page
    context.close()
    assert csp_violations == [], "the page broke its Content-Security-Policy"
