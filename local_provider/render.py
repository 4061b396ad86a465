"""Renders the "cyberpunk hero" image-to-video clip with Pillow and PyAV (runs in a worker process)."""

import io
import os
import random
import tempfile

import av
from PIL import Image, ImageChops, ImageDraw, ImageEnhance, ImageFilter, ImageOps

FPS = 24
SECONDS = 3
SHORT_SIDE = 512
MAX_LONG_SIDE = 912
BATCH = 8
ZOOM_END = 1.14


class RenderCancelled(Exception):
    """The engine asked the render to stop (cancel or injected failure)."""


def output_size(width: int, height: int) -> tuple[int, int]:
    """Keep the aspect ratio, short side 512, long side capped, both even (yuv420p needs even sizes)."""
    scale = SHORT_SIDE / min(width, height)
    w, h = round(width * scale), round(height * scale)
    w, h = min(w, MAX_LONG_SIDE), min(h, MAX_LONG_SIDE)
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


def _grade(img: Image.Image) -> Image.Image:
    """Neon magenta/cyan grade: colorize the luminance, blend back some of the original."""
    gray = ImageOps.autocontrast(img.convert("L"), cutoff=1)
    neon = ImageOps.colorize(gray, black=(12, 0, 30), mid=(230, 0, 170), white=(40, 255, 255))
    graded = Image.blend(img, neon, 0.62)
    graded = ImageEnhance.Contrast(graded).enhance(1.25)
    return ImageEnhance.Color(graded).enhance(1.35)


def _vignette(size: tuple[int, int]) -> Image.Image:
    """A soft dark border, multiplied over every frame."""
    w, h = size
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).ellipse([-w * 0.15, -h * 0.15, w * 1.15, h * 1.15], fill=255)
    mask = mask.filter(ImageFilter.GaussianBlur(max(w, h) // 8))
    return Image.merge("RGB", [ImageOps.autocontrast(mask, cutoff=0).point(lambda v: 70 + v * 185 // 255)] * 3)


def _scanlines(size: tuple[int, int]) -> Image.Image:
    """Dark rows every 3 px, twice as tall as the frame so it can scroll."""
    w, h = size
    lines = Image.new("RGB", (w, h * 2), (255, 255, 255))
    draw = ImageDraw.Draw(lines)
    for y in range(0, h * 2, 3):
        draw.line([(0, y), (w, y)], fill=(170, 170, 185))
    return lines


def _glitch(frame: Image.Image, rnd: random.Random) -> Image.Image:
    """RGB split plus a few horizontally displaced slices."""
    r, g, b = frame.split()
    dx = rnd.randint(4, 14)
    frame = Image.merge("RGB", (ImageChops.offset(r, dx, 0), g, ImageChops.offset(b, -dx, 0)))
    w, h = frame.size
    for _ in range(rnd.randint(2, 5)):
        top = rnd.randrange(0, h - 8)
        band = frame.crop((0, top, w, top + rnd.randint(4, 24)))
        frame.paste(ImageChops.offset(band, rnd.randint(-40, 40), 0), (0, top))
    return frame


def render_clip(image_bytes: bytes, out_path: str, *, seed: int, progress_path: str | None = None,
                control_path: str | None = None, seconds: int = SECONDS) -> dict:
    """Render the clip to out_path (H.264, yuv420p, MP4 with faststart) and return its metadata.

    Progress is written as "done total" to progress_path after each frame batch; the render
    stops with RenderCancelled as soon as control_path exists (the engine's cancel signal).
    """
    if control_path and os.path.exists(control_path):
        raise RenderCancelled(control_path)  # stopped while still waiting for a pool worker
    rnd = random.Random(seed)
    src = ImageOps.exif_transpose(Image.open(io.BytesIO(image_bytes))).convert("RGB")
    size = output_size(*src.size)
    # Grade once at the zoomed-out size; each frame is a centred crop of it, resized back up.
    base = _grade(ImageOps.fit(src, size, Image.Resampling.LANCZOS))
    vignette, scan = _vignette(size), _scanlines(size)
    total = FPS * seconds
    glitch_frames = {f for f in range(total) if rnd.random() < 0.09}
    # A name of its own: two providers sharing a cache may render the same clip at once.
    tmp_path = _temporary_path(out_path)
    container = av.open(tmp_path, mode="w", format="mp4", options={"movflags": "faststart"})
    try:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        stream.options = {"preset": "veryfast", "crf": "23"}
        w, h = size
        for index in range(total):
            t = index / max(1, total - 1)
            zoom = 1.0 + (ZOOM_END - 1.0) * (t * t * (3 - 2 * t))  # smoothstep push-in
            cw, ch = w / zoom, h / zoom
            box = ((w - cw) / 2, (h - ch) / 2 * 0.8, (w + cw) / 2, (h - ch) / 2 * 0.8 + ch)
            frame = base.resize(size, Image.Resampling.BILINEAR, box=box)
            offset = (index * 2) % h
            frame = ImageChops.multiply(frame, scan.crop((0, offset, w, offset + h)))
            frame = ImageChops.multiply(frame, vignette)
            if index in glitch_frames:
                frame = _glitch(frame, rnd)
            if index % 12 == 0:  # neon flicker
                frame = ImageEnhance.Brightness(frame).enhance(1.0 + rnd.uniform(-0.12, 0.18))
            for packet in stream.encode(av.VideoFrame.from_image(frame)):
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
    return {"width": w, "height": h, "frames": total, "fps": FPS, "bytes": size_bytes}


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
                    control_path: str | None) -> dict:
    """Positional entry point for ProcessPoolExecutor (run_in_executor passes no keywords)."""
    return render_clip(image_bytes, out_path, seed=seed, progress_path=progress_path, control_path=control_path)


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
