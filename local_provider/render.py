"""Renders the image-to-video clip with Pillow and PyAV (runs in a worker process); the prompt
picks its look (looks.py)."""

import io
import os
import random
import tempfile

import av
from PIL import Image, ImageDraw, ImageOps

from .looks import LOOKS, look_for

FPS = 24
SECONDS = 3
SHORT_SIDE = 512
MAX_LONG_SIDE = 912
BATCH = 8
CRF = 23


class RenderCancelled(Exception):
    """The engine asked the render to stop (cancel or injected failure)."""


def output_size(width: int, height: int, short_side: int = SHORT_SIDE) -> tuple[int, int]:
    """Keep the aspect ratio, short side 512, long side capped, both even (yuv420p needs even sizes)."""
    scale = short_side / min(width, height)
    w, h = round(width * scale), round(height * scale)
    long_side = MAX_LONG_SIDE * short_side // SHORT_SIDE
    w, h = min(w, long_side), min(h, long_side)
    return w - w % 2, h - h % 2


def placeholder_image(size: int = 512) -> bytes:
    """A synthetic portrait-ish JPEG used for the fast-mode clip, so no fetch is needed."""
    img = Image.new("RGB", (size, size), (30, 20, 60))
    draw = ImageDraw.Draw(img)
    for y in range(0, size, 4):
        shade = int(40 + 120 * y / size)
        draw.line([(0, y), (size, y)], fill=(shade // 2, shade // 3, shade))
    draw.ellipse([size * 0.3, size * 0.18, size * 0.7, size * 0.62], fill=(200, 170, 150))
    draw.rectangle([size * 0.22, size * 0.62, size * 0.78, size], fill=(60, 60, 90))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def render_clip(image_bytes: bytes, out_path: str, *, seed: int, progress_path: str | None = None,
                control_path: str | None = None, seconds: int = SECONDS, prompt: str | None = None,
                short_side: int = SHORT_SIDE, crf: int = CRF) -> dict:
    """Render the clip to out_path (H.264, yuv420p, MP4 with faststart) and return its metadata.

    The prompt picks the look (looks.look_for). Progress is written as "done total" to
    progress_path after each frame batch; the render stops with RenderCancelled as soon as
    control_path exists (the engine's cancel signal).
    """
    if control_path and os.path.exists(control_path):
        raise RenderCancelled(control_path)  # stopped while still waiting for a pool worker
    rnd = random.Random(seed)
    src = ImageOps.exif_transpose(Image.open(io.BytesIO(image_bytes))).convert("RGB")
    size = output_size(*src.size, short_side=short_side)
    look = look_for(prompt)
    total = FPS * seconds
    # The look grades once at the output size; each frame is then a camera move over it.
    frame_at = LOOKS[look](ImageOps.fit(src, size, Image.Resampling.LANCZOS), rnd, total)
    # A name of its own: two providers sharing a cache may render the same clip at once.
    tmp_path = _temporary_path(out_path)
    container = av.open(tmp_path, mode="w", format="mp4", options={"movflags": "faststart"})
    try:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "veryfast", "crf": str(crf)}
        for index in range(total):
            for packet in stream.encode(av.VideoFrame.from_image(frame_at(index, total))):
                container.mux(packet)
            if (index + 1) % BATCH == 0 or index + 1 == total:
                _report(progress_path, index + 1, total)
                if control_path and os.path.exists(control_path):
                    raise RenderCancelled(control_path)
        for packet in stream.encode():
            container.mux(packet)
    except BaseException:
        container.close()
        _unlink(tmp_path)
        raise
    container.close()
    size_bytes = os.path.getsize(tmp_path)
    os.replace(tmp_path, out_path)  # atomic: readers see the old clip or the whole new one
    w, h = size
    return {"width": w, "height": h, "frames": total, "fps": FPS, "bytes": size_bytes, "look": look}


def _temporary_path(out_path: str) -> str:
    """A new, empty file next to out_path (same file system, so the final rename is atomic)."""
    fd, path = tempfile.mkstemp(dir=os.path.dirname(out_path) or ".",
                                prefix=os.path.basename(out_path) + ".", suffix=".part")
    os.close(fd)
    return path


def clip_problem(path: str) -> str | None:
    """Why the clip at path would not play (missing, unreadable, no video, truncated), or None."""
    try:
        with av.open(path) as container:
            if not container.streams.video:
                return "no video stream"
            stream = container.streams.video[0]
            declared = stream.frames
            decoded = sum(1 for _ in container.decode(stream))
    except (OSError, av.error.FFmpegError) as exc:
        return f"unreadable: {exc}"
    if declared <= 0 or decoded != declared:
        return f"{decoded} of {declared} frames decode"
    return None


def render_clip_job(image_bytes: bytes, out_path: str, seed: int, progress_path: str | None,
                    control_path: str | None, prompt: str | None = None) -> dict:
    """Positional entry point for ProcessPoolExecutor (run_in_executor passes no keywords)."""
    return render_clip(image_bytes, out_path, seed=seed, progress_path=progress_path,
                       control_path=control_path, prompt=prompt)


def _report(progress_path: str | None, done: int, total: int) -> None:
    """Atomically publish progress so the event loop never reads a half-written file."""
    if not progress_path:
        return
    tmp = progress_path + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(f"{done} {total}")
    os.replace(tmp, progress_path)


def read_progress(progress_path: str) -> tuple[int, int] | None:
    """Read what _report wrote, or None before the first batch."""
    try:
        with open(progress_path) as fh:
            done, total = fh.read().split()
        return int(done), int(total)
    except (OSError, ValueError):
        return None


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
