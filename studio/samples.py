"""The bundled sample: a selfie, and the video the local provider's renderer made of it.

Static files, committed; `python manage.py render_style_previews` makes the video (and the style
previews) from the selfie again after the renderer or a style changes.
"""

from __future__ import annotations

SAMPLE_SELFIE = "samples/selfie-astronaut.jpg"
SAMPLE_STYLE = "cyberpunk-hero"  # the landing page's "after"
SAMPLE_RESULT = f"samples/selfie-astronaut-{SAMPLE_STYLE}.mp4"
SAMPLE_RESULT_POSTER = f"samples/selfie-astronaut-{SAMPLE_STYLE}.jpg"
