"""`manage.py render_style_previews`: every style's preview and the landing sample, small."""

from __future__ import annotations

import io

import av
from django.core.management import call_command

from jobs.styles import STYLES
from studio.samples import SAMPLE_RESULT, SAMPLE_RESULT_POSTER

PREVIEW_MAX_BYTES = 150 * 1024


def test_previews_are_rendered_for_every_style_and_the_landing_sample(tmp_path):
    output = io.StringIO()
    call_command("render_style_previews", "--out", str(tmp_path), stdout=output)
    for style in STYLES.values():
        clip, poster = tmp_path / style.preview, tmp_path / style.poster
        assert clip.stat().st_size <= PREVIEW_MAX_BYTES and poster.stat().st_size <= PREVIEW_MAX_BYTES
        with av.open(str(clip)) as container:
            stream = container.streams.video[0]
            assert (stream.codec_context.width, stream.frames) == (240, 72)
        assert style.preview in output.getvalue()
    assert (tmp_path / SAMPLE_RESULT).stat().st_size <= 400 * 1024
    assert (tmp_path / SAMPLE_RESULT_POSTER).exists()
