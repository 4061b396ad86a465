"""Command line: render one clip (and a poster frame) from an image and a prompt, without the server.

    python -m local_provider.preview --image selfie.jpg --prompt "film noir …" --out clip.mp4 \
        [--poster poster.jpg] [--short-side 240] [--seconds 3] [--crf 30]

The app's style previews and the landing page's sample are made with it (see
`manage.py render_style_previews`), so they look exactly like what the provider renders.
"""

import argparse
import json

import av

from . import render

POSTER_AT = 0.5  # the poster is the frame this far into the clip: mid-move, fully graded


def poster_frame(clip_path: str, poster_path: str, *, at: float = POSTER_AT, quality: int = 80) -> None:
    """Save the frame `at` (0–1) of the way through the clip as a JPEG."""
    with av.open(clip_path) as container:
        frames = container.streams.video[0].frames
        wanted = min(frames - 1, int(frames * at))
        for index, frame in enumerate(container.decode(video=0)):
            if index == wanted:
                frame.to_image().save(poster_path, "JPEG", quality=quality, optimize=True,
                                      progressive=True)
                return
    raise ValueError(f"{clip_path} has no frame {wanted}")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local_provider.preview", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--image", required=True, help="the photo (JPEG, PNG or WebP)")
    parser.add_argument("--prompt", required=True, help="the prompt, as a provider receives it")
    parser.add_argument("--out", required=True, help="the MP4 to write")
    parser.add_argument("--poster", help="also write this JPEG: a frame from the middle")
    parser.add_argument("--short-side", type=int, default=render.SHORT_SIDE, help="pixels (default 512)")
    parser.add_argument("--seconds", type=int, default=render.SECONDS, help="length (default 3)")
    parser.add_argument("--crf", type=int, default=render.CRF, help="x264 quality, higher is smaller")
    parser.add_argument("--seed", type=int, default=1, help="the render's random seed (default 1)")
    args = parser.parse_args(argv)
    with open(args.image, "rb") as image:
        data = image.read()
    meta = render.render_clip(data, args.out, seed=args.seed, prompt=args.prompt,
                              seconds=args.seconds, short_side=args.short_side, crf=args.crf)
    if args.poster:
        poster_frame(args.out, args.poster)
    print(json.dumps(meta))


if __name__ == "__main__":
    main()
