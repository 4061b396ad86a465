"""The style catalogue: what a user can pick, its preview, and the prompt sent to the provider."""

from __future__ import annotations

from dataclasses import dataclass

# Static files (under static/) made from the sample selfie by the local provider's renderer:
# `python manage.py render_style_previews` writes them; they are committed.
PREVIEW_DIR = "styles"


@dataclass(frozen=True)
class Style:
    slug: str
    title: str
    description: str  # one line, shown under the title
    prompt: str  # what the provider gets (with ", <title> style" appended: providers.base)

    @property
    def preview(self) -> str:
        """The static path of the short, muted preview loop."""
        return f"{PREVIEW_DIR}/{self.slug}.mp4"

    @property
    def poster(self) -> str:
        """The static path of the preview's poster frame (JPEG)."""
        return f"{PREVIEW_DIR}/{self.slug}.jpg"


STYLES: dict[str, Style] = {
    style.slug: style
    for style in [
        Style(
            slug="cyberpunk-hero",
            title="Cyberpunk hero",
            description="Neon-soaked night city, rain, a slow heroic push-in.",
            prompt=("cinematic portrait of the person as a cyberpunk hero, neon magenta and cyan "
                    "rim light, rain-slick night city, slow push-in, film grain, 24 fps"),
        ),
        Style(
            slug="film-noir",
            title="Film noir",
            description="Black and white 1940s detective, blind-slat shadows, a slow pan.",
            prompt=("black and white film noir portrait of the person as a 1940s detective, "
                    "hard key light through venetian blinds, drifting smoke, slow lateral pan, "
                    "heavy film grain, 24 fps"),
        ),
        Style(
            slug="anime-opening",
            title="Anime opening",
            description="Cel-shaded hero shot with speed lines and a snap zoom.",
            prompt=("the person as the hero of an anime opening sequence, cel-shaded, bold ink "
                    "outlines, flat vivid colours, speed lines, dramatic snap zoom, 24 fps"),
        ),
        Style(
            slug="watercolor-storybook",
            title="Watercolor storybook",
            description="Soft washes and pencil lines on paper, gently swaying.",
            prompt=("the person painted as a watercolor storybook illustration, soft pastel "
                    "washes, fine pencil lines, textured paper, gentle swaying camera, 24 fps"),
        ),
        Style(
            slug="golden-hour-western",
            title="Golden-hour western",
            description="Warm desert light, a sun flare and drifting dust as the camera pulls back.",
            prompt=("the person as a gunslinger in a western at golden hour, warm amber light, "
                    "sun flare, drifting dust, slow pull-out, anamorphic, 24 fps"),
        ),
        Style(
            slug="underwater-dream",
            title="Underwater dream",
            description="Teal depths, rippling light and rising bubbles.",
            prompt=("dreamlike underwater portrait of the person, teal and aquamarine light, "
                    "rippling caustics, rising bubbles, floating upward drift, 24 fps"),
        ),
    ]
}


def style_get(slug: str) -> Style | None:
    return STYLES.get(slug)


def style_title(slug: str) -> str:
    """What people call the style ("Cyberpunk hero"); the slug of a style since retired."""
    style = STYLES.get(slug)
    return style.title if style else slug
