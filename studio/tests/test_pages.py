"""The studio pages: create, job, my videos, settings, and the service worker."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings

from jobs.services.images import MAX_BYTES, MIN_SIDE
from jobs.services.sharing import job_share
from jobs.services.transitions import job_transition
from jobs.styles import STYLES
from jobs.tests.finished import finished_job
from notifications.models import Notification
from notifications.tests.conftest import make_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(client, user):
    client.force_login(user)
    return client


def test_pages_need_a_sign_in(client):
    for path in ("/app/", "/app/videos/", "/app/settings/"):
        assert client.get(path).status_code == 302


def test_create_page_uses_the_api_with_a_phone_camera_picker(browser):
    html = browser.get("/app/").content.decode()
    assert 'accept="image/*"' in html and 'capture="user"' in html
    assert "Cyberpunk hero" in html and "Try it with a sample selfie" in html
    assert "samples/selfie-astronaut.jpg" in html and 'name="csrf-token"' in html


def test_the_sample_button_waits_for_its_script(browser):
    """Hidden until create.js shows it: a click before the module had loaded did nothing (the
    browser tests click it, so they wait for it)."""
    html = browser.get("/app/").content.decode()
    assert re.search(r"<button[^>]*data-sample hidden", html)
    script = (settings.BASE_DIR / "studio/static/studio/js/create.js").read_text()
    assert 'el("sample").hidden = false;' in script


def test_create_page_carries_the_servers_photo_rules_and_every_style(browser):
    """The page checks a pick with the upload's own limits, rendered from the server's rules."""
    html = browser.get("/app/").content.decode()
    assert f'data-max-bytes="{MAX_BYTES}"' in html and f'data-min-side="{MIN_SIDE}"' in html
    assert 'data-types="image/jpeg,image/png,image/webp"' in html
    for style in STYLES.values():
        assert f'value="{style.slug}"' in html and f"/static/{style.preview}" in html
        assert f"/static/{style.poster}" in html and style.description in html


def test_job_page_shows_the_state_and_reserves_the_video_box(browser, user):
    job = make_job(user, width=512, height=640)
    html = browser.get(f"/app/jobs/{job.id}/").content.decode()
    assert "--w: 512; --h: 640" in html  # the box has the video's shape before it exists
    assert 'aria-live="polite"' in html and f"/ws/jobs/{job.id}/" in html
    assert f"/api/v1/jobs/{job.id}/" in html and "In line" in html


def test_another_users_job_page_is_404(browser, other_user):
    job = make_job(other_user)
    assert browser.get(f"/app/jobs/{job.id}/").status_code == 404


def test_my_videos_lists_only_my_jobs_with_status_badges(browser, user, other_user):
    mine = make_job(user)
    job_transition(job_id=mine.id, status="failed", source="test")
    theirs = make_job(other_user)
    html = browser.get("/app/videos/").content.decode()
    assert str(mine.id) in html and str(theirs.id) not in html
    assert "badge-failed" in html


def test_settings_page_turns_email_off(browser, user):
    assert browser.get("/app/settings/").status_code == 200
    browser.post("/app/settings/", {})
    user.refresh_from_db()
    assert user.email_notifications is False
    browser.post("/app/settings/", {"email_notifications": "on"})
    user.refresh_from_db()
    assert user.email_notifications is True


def test_service_worker_is_served_from_the_root(client):
    response = client.get("/sw.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    assert b"showNotification" in response.content


def test_the_bell_shows_the_unread_count(browser, user):
    Notification.objects.create(user=user, kind="job_succeeded", title="Ready")
    html = browser.get("/app/").content.decode()
    assert "data-bell-count >1</span>" in html


def test_download_saves_the_file_instead_of_leaving_for_the_bucket(browser, user, other_user):
    """The video lives on another origin, where `<a download>` is ignored: the Download button
    goes through a same-origin URL that redirects to a signed URL asking for an attachment."""

    job = make_job(user)
    assert browser.get(f"/app/jobs/{job.id}/download/").status_code == 404  # not ready yet
    html = browser.get(f"/app/jobs/{job.id}/").content.decode()
    assert f'href="/app/jobs/{job.id}/download/"' in html
    for status in ("dispatching", "submitted", "rendering", "saving"):
        job_transition(job_id=job.id, status=status, source="test")
    job_transition(job_id=job.id, status="succeeded", source="test",
                   fields={"output_key": f"videos/{job.id}.mp4"})
    response = browser.get(f"/app/jobs/{job.id}/download/")
    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["response-content-disposition"] == [
        f'attachment; filename="surge-cyberpunk-hero-{str(job.id)[:8]}.mp4"']
    assert query["response-content-type"] == ["video/mp4"]
    theirs = make_job(other_user)
    assert browser.get(f"/app/jobs/{theirs.id}/download/").status_code == 404


def csp_directives(response) -> dict[str, str]:
    policy = response["Content-Security-Policy"]
    return dict((part.strip() + " ").split(" ", 1) for part in policy.split(";"))


def test_pages_carry_a_content_security_policy_without_inline_script(browser, settings):
    """Scripts only from our files, media from the bucket, nothing may frame the pages."""
    directives = csp_directives(browser.get("/app/"))
    assert directives["script-src"].strip() == "'self'"
    assert directives["style-src"].strip() == "'self'"  # no nonce where none is needed
    assert directives["frame-ancestors"].strip() == "'none'"
    assert directives["object-src"].strip() == "'none'"
    assert settings.MEDIA_ORIGIN in directives["media-src"]
    assert settings.MEDIA_ORIGIN in directives["img-src"]
    html = browser.get("/app/").content.decode()
    assert "<script>" not in html and " style=" not in html


def test_the_job_pages_one_style_is_allowed_by_its_nonce(browser, user):
    job = make_job(user, width=512, height=640)
    response = browser.get(f"/app/jobs/{job.id}/")
    nonce = csp_directives(response)["style-src"].split("'nonce-")[1].split("'")[0]
    assert f'<style nonce="{nonce}">' in response.content.decode()


def test_api_docs_use_our_own_swagger_ui_files(client):
    """No CDN (a blank page offline, someone else's script on our origin): our static files,
    and the start-up script as a file too."""
    html = client.get("/api/docs/").content.decode()
    assert "cdn." not in html and "jsdelivr" not in html
    assert "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in html
    assert "<script>" not in html and "<style>" not in html


def test_job_page_shows_the_public_link_only_while_shared(browser, user, settings):
    """The link (on PUBLIC_BASE_URL) and Stop sharing appear once the owner shares."""
    settings.PUBLIC_BASE_URL = "https://surge.example.com"
    job = finished_job(user)
    html = browser.get(f"/app/jobs/{job.id}/").content.decode()
    assert 'data-share-url=""' in html and "data-shared hidden" in html
    job = job_share(user=user, job_id=job.id)
    html = browser.get(f"/app/jobs/{job.id}/").content.decode()
    link = f"https://surge.example.com/v/{job.share_token}/"
    assert f'data-share-url="{link}"' in html and f'href="{link}"' in html
    assert "data-shared hidden" not in html and "Stop sharing" in html
    assert " controls " in html and " autoplay" not in html  # the script decides (reduced motion)
