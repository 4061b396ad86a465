"""axe-core on every studio page, at a laptop's and a phone's width: no serious or critical
violation may remain. A new page is one line in STUDIO_PAGES."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from accounts.models import User
from jobs.services.sharing import job_share
from jobs.services.transitions import job_transition
from notifications.tests.conftest import PASSWORD, make_job
from studio.tests.axe import axe_violations, describe
from studio.tests.browser import VIEWPORTS, in_thread, login_cookie, shot, tiny_mp4

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


@dataclass(frozen=True)
class StudioPage:
    name: str
    # May name {job} (the user's queued job), {video} (their finished one), {other} (someone
    # else's job, which is a 404), {missing} (a job that never existed), {selfie} (the user's
    # photo) or {share} (the shared video's token).
    path: str
    signed_in: bool = True


STUDIO_PAGES = [
    StudioPage("landing", "/", signed_in=False),
    StudioPage("sign-in", "/accounts/login/", signed_in=False),
    StudioPage("sign-up", "/accounts/signup/", signed_in=False),
    StudioPage("password-reset", "/accounts/password/reset/", signed_in=False),
    StudioPage("not-found-signed-out", "/no-such-page/", signed_in=False),
    StudioPage("create", "/app/"),
    StudioPage("job", "/app/jobs/{job}/"),
    StudioPage("video", "/app/jobs/{video}/"),
    StudioPage("videos", "/app/videos/"),
    StudioPage("settings", "/app/settings/"),
    StudioPage("password-change", "/accounts/password/change/"),
    StudioPage("not-found", "/app/jobs/{other}/"),
    StudioPage("account", "/app/account/"),
    StudioPage("photos", "/app/photos/"),
    StudioPage("photo-delete", "/app/photos/{selfie}/delete/"),
    StudioPage("video-delete", "/app/jobs/{video}/delete/"),
    StudioPage("account-delete", "/app/account/delete/"),
    StudioPage("shared-video", "/v/{share}/", signed_in=False),
]


def seed() -> tuple[User, dict[str, str]]:
    """A user with a queued job and a finished video, and someone else's job."""
    user = User.objects.create_user("axe@example.com", PASSWORD)
    other = User.objects.create_user("someone@example.com", PASSWORD)
    job, video = make_job(user), make_job(user, style="cyberpunk-hero")
    key = default_storage.save(f"videos/test-{video.id}.mp4", ContentFile(tiny_mp4()))
    for status in ("dispatching", "submitted", "rendering", "saving"):
        job_transition(job_id=video.id, status=status, source="test")
    job_transition(job_id=video.id, status="succeeded", source="test",
                   fields={"output_key": key})
    shared = job_share(user=user, job_id=video.id)
    return user, {"job": str(job.id), "video": str(video.id), "other": str(make_job(other).id),
                  "missing": str(uuid.uuid4()), "selfie": str(job.selfie_id),
                  "share": shared.share_token}


@pytest.mark.parametrize("width", list(VIEWPORTS))
@pytest.mark.parametrize("studio_page", STUDIO_PAGES, ids=lambda p: p.name)
def test_no_serious_accessibility_violations(page, live_app, studio_page, width):
    user, ids = in_thread(seed)
    if studio_page.signed_in:
        page.context.add_cookies([login_cookie(user, live_app.url)])
    page.set_viewport_size(VIEWPORTS[width])
    response = page.goto(live_app.url + studio_page.path.format(**ids))
    assert response.status < 500
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)  # module scripts render the first state (badges, stage words)
    violations = axe_violations(page)
    shot(page, f"axe-{studio_page.name}-{width}")
    assert violations == [], describe(violations)
