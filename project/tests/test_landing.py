"""The landing page: a sample result (the bundled selfie and its video) and the three steps."""

from __future__ import annotations

import pytest
from django.conf import settings

from studio.samples import SAMPLE_RESULT, SAMPLE_RESULT_POSTER, SAMPLE_SELFIE

pytestmark = pytest.mark.django_db


def test_the_landing_page_shows_the_sample_before_and_after(client):
    html = client.get("/").content.decode()
    for path in (SAMPLE_SELFIE, SAMPLE_RESULT, SAMPLE_RESULT_POSTER):
        assert f"/static/{path}" in html
        assert (settings.BASE_DIR / "static" / path).stat().st_size < 400 * 1024  # committed, small
    assert "Upload a selfie." in html and "Pick a style." in html and "Get your video." in html
    assert 'href="/accounts/signup/"' in html


def test_a_signed_in_visitor_goes_to_the_create_page(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("lu@example.com", "x"))
    assert client.get("/")["Location"] == "/app/"
