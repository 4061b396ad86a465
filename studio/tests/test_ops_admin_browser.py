"""The operations pages in Chromium at 1280 px: nothing overflows, and the dashboard refreshes
itself without a reload."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.models import User
from jobs.models import Job
from jobs.ops import counters
from notifications.tests.conftest import PASSWORD
from studio.tests.browser import in_thread, login_cookie, shot

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
WIDTH = 1280


def fits(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth") <= WIDTH


def test_provider_states_and_dashboard_fit_1280_and_refresh_live(page, live_app):
    """Both pages fit 1280 px; a job queued and a request turned away after the dashboard
    loaded show up on their own."""
    admin = in_thread(User.objects.create_superuser, "ops@example.com", PASSWORD)
    page.context.add_cookies([login_cookie(admin, live_app.url)])
    page.set_viewport_size({"width": WIDTH, "height": 900})

    page.goto(f"{live_app.url}/admin/jobs/providerstate/")
    expect(page.get_by_text("Slots in use / limit")).to_be_visible()
    assert fits(page)
    shot(page, "ops-providers-1280")

    page.goto(f"{live_app.url}/admin/ops/")
    expect(page.locator("#ops-queue-depth")).to_have_text("0")
    expect(page.locator("#ops-chart polyline")).to_have_count(3)  # drawn by dashboard.js
    assert fits(page)
    in_thread(Job.objects.create, user=admin, style="cyberpunk-hero")
    expect(page.locator("#ops-queue-depth")).to_have_text("1")  # the next poll, no reload
    expect(page.locator("#ops-oldest-age")).to_have_text(re.compile(r"^\d+ s$"))  # for people
    expect(page.locator("#ops-shed-waited")).to_have_text("0 / 0")
    expect(page.locator("#ops-shed-waited-tile")).not_to_have_class(re.compile("ops-alert"))
    counters.count_request_shed("waited")  # as a web process does (project/asgi.py)
    expect(page.locator("#ops-shed-waited")).to_have_text("1 / 1")
    expect(page.locator("#ops-shed-waited-tile")).to_have_class(re.compile("ops-alert"))
    expect(page.locator("#ops-shed-client-left")).to_have_text("0 / 0")
    shot(page, "ops-dashboard-1280")
