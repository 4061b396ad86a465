"""The style catalogue: complete entries, previews that exist and are small, distinct looks."""

from __future__ import annotations

from django.conf import settings

from jobs.styles import STYLES, style_get
from local_provider.looks import look_for
from providers.base import compose_prompt

STATIC = settings.BASE_DIR / "static"
PREVIEW_MAX_BYTES = 150 * 1024


def test_the_catalogue_has_six_complete_styles():
    """Each style has a slug, a title, a one-line description and a prompt."""
    assert len(STYLES) >= 6
    for slug, style in STYLES.items():
        assert style.slug == slug and style_get(slug) is style
        assert style.title and style.prompt
        assert style.description and "\n" not in style.description and len(style.description) < 90


def test_every_preview_is_a_small_committed_file():
    for style in STYLES.values():
        clip, poster = STATIC / style.preview, STATIC / style.poster
        assert clip.read_bytes()[4:8] == b"ftyp", clip  # an MP4
        assert poster.read_bytes()[:3] == b"\xff\xd8\xff", poster  # a JPEG
        assert clip.stat().st_size <= PREVIEW_MAX_BYTES and poster.stat().st_size <= PREVIEW_MAX_BYTES


def test_the_local_provider_renders_each_style_differently():
    """What a provider gets for each style picks a different look in the local provider."""
    looks = {look_for(compose_prompt(prompt=style.prompt, style=style.title))
             for style in STYLES.values()}
    assert len(looks) == len(STYLES)
