"""Render the style previews and the landing page's sample from the bundled sample selfie.

Run once after changing a style or the local provider's looks, then commit the files: they are
small (see STYLE_PREVIEW and LANDING_SAMPLE) and served as static files.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand

from jobs.styles import STYLES
from providers.base import compose_prompt
from studio.samples import SAMPLE_RESULT, SAMPLE_RESULT_POSTER, SAMPLE_SELFIE, SAMPLE_STYLE

STATIC = settings.BASE_DIR / "static"
# Small enough for a page of six (≤ 150 KB each), sharp enough for a card.
STYLE_PREVIEW = ["--short-side", "240", "--crf", "27"]
LANDING_PREVIEW = ["--short-side", "384", "--crf", "26"]


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--out", type=Path, default=STATIC,
                            help="the static directory to write into (default: static/)")

    def handle(self, *args, out: Path, **options):
        for style in STYLES.values():
            self.render(compose_prompt(prompt=style.prompt, style=style.title),
                        out, style.preview, style.poster, STYLE_PREVIEW)
        style = STYLES[SAMPLE_STYLE]  # the landing page's "after"
        self.render(compose_prompt(prompt=style.prompt, style=style.title),
                    out, SAMPLE_RESULT, SAMPLE_RESULT_POSTER, LANDING_PREVIEW)

    def render(self, prompt: str, out: Path, clip: str, poster: str, size: list[str]) -> None:
        (out / clip).parent.mkdir(parents=True, exist_ok=True)
        # The local provider is an outside service that imports nothing of ours (and we import
        # nothing of it): its renderer runs as its own command, given the prompt a provider gets.
        subprocess.run([sys.executable, "-m", "local_provider.preview",
                        "--image", str(STATIC / SAMPLE_SELFIE), "--prompt", prompt,
                        "--out", str(out / clip), "--poster", str(out / poster), *size],
                       check=True, cwd=settings.BASE_DIR, stdout=subprocess.DEVNULL)
        sizes = ", ".join(f"{(out / name).stat().st_size // 1024} KB" for name in (clip, poster))
        self.stdout.write(f"{clip}: {sizes}")
