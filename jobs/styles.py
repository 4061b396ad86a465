"""The styles a user can pick; each maps to the prompt sent to the provider."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Style:
    slug: str
    title: str
    description: str
    prompt: str


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
    ]
}


def style_get(slug: str) -> Style | None:
    return STYLES.get(slug)


def style_title(slug: str) -> str:
    """What people call the style ("Cyberpunk hero"); the slug of a style since retired."""
    style = STYLES.get(slug)
    return style.title if style else slug
