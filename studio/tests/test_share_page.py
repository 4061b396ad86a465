"""The public page of a shared video: signed out, unfurls in chat apps, leaks nothing, and
answers 404 once its owner turns sharing off."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx
import pytest

from jobs.services.sharing import job_share, job_unshare
from jobs.tests.finished import finished_job

pytestmark = pytest.mark.django_db

BASE = "https://surge.example.com"


@pytest.fixture(autouse=True)
def public_base_url(settings):
    settings.PUBLIC_BASE_URL = BASE


class Meta(HTMLParser):
    """The page's <meta property|name=… content=…> tags."""

    def __init__(self, html: str):
        super().__init__()
        self.tags: dict[str, str] = {}
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "meta" and (attrs.get("property") or attrs.get("name")):
            self.tags[attrs.get("property") or attrs["name"]] = attrs.get("content", "")


@pytest.fixture
def shared(user):
    job = finished_job(user, poster=True)
    return job_share(user=user, job_id=job.id)


def page(client, job):
    return client.get(f"/v/{job.share_token}/")


def test_the_page_works_signed_out_with_the_video_and_a_way_in(client, shared):
    response = page(client, shared)
    assert response.status_code == 200
    html = response.content.decode()
    assert f'src="/v/{shared.share_token}/video.mp4"' in html and " controls " in html
    assert "Cyberpunk hero" in html and 'href="/accounts/signup/"' in html
    assert "Make your own" in html
    assert response["X-Robots-Tag"] == "noindex"
    assert "no-cache" in response["Cache-Control"]  # turned off means gone at once


def test_link_preview_tags_are_absolute_on_the_public_base_url(client, shared):
    """og:* and twitter:* name stable links on PUBLIC_BASE_URL, never the request's host."""
    tags = Meta(page(client, shared).content.decode()).tags  # requested as "testserver"
    root = f"{BASE}/v/{shared.share_token}/"
    assert tags["og:title"] == tags["twitter:title"] == "Cyberpunk hero — made with Surge"
    assert tags["og:description"] and tags["og:url"] == root
    assert tags["og:image"] == tags["twitter:image"] == f"{root}poster.jpg"
    assert tags["og:video"] == f"{root}video.mp4"
    assert tags["og:type"] == "video.other" and tags["twitter:card"] == "summary_large_image"


def test_the_page_shows_nothing_of_the_owner(client, shared, user):
    html = page(client, shared).content.decode()
    assert user.email not in html and str(shared.id) not in html
    assert "selfies/" not in html and "thumbnail" not in html


def test_poster_and_video_redirect_to_fresh_signed_urls_that_work(client, shared):
    for name, kind in (("poster.jpg", "image/jpeg"), ("video.mp4", "video/mp4")):
        response = client.get(f"/v/{shared.share_token}/{name}")
        assert response.status_code == 302
        assert "no-cache" in response["Cache-Control"]
        media = httpx.get(response["Location"], timeout=10)
        assert media.status_code == 200 and media.headers["content-type"] == kind


def test_turned_off_every_link_is_not_found(client, shared, user):
    token = shared.share_token
    job_unshare(user=user, job_id=shared.id)
    for suffix in ("", "poster.jpg", "video.mp4"):
        assert client.get(f"/v/{token}/{suffix}").status_code == 404


@pytest.mark.parametrize("token", ["nope", "x" * 22, "a" * 300, "%00"])
def test_unknown_and_malformed_tokens_are_not_found(client, shared, token):
    assert client.get(f"/v/{token}/").status_code == 404


def test_a_token_is_unguessable(user):
    tokens = {job_share(user=user, job_id=finished_job(user).id).share_token for _ in range(3)}
    assert len(tokens) == 3
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", token) for token in tokens)
