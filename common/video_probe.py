"""Is a downloaded file a video we may serve? PyAV opens it and decodes one frame. And a
poster: one frame of it as a JPEG, for link previews."""

from __future__ import annotations

import io

import av
from django.conf import settings


class NotAVideo(Exception):
    """The file is not a playable video within the limits; the message says why."""


def probe_video(file, *, size: int) -> None:
    """Raise NotAVideo unless `file` (a path or a seekable binary file of `size` bytes) holds
    a video stream with a duration and at least one decodable frame, within the size,
    duration and dimension limits in settings."""
    if size <= 0 or size > settings.MAX_OUTPUT_BYTES:
        raise NotAVideo(f"{size} bytes is outside 1..{settings.MAX_OUTPUT_BYTES}")
    try:
        with av.open(file, mode="r") as container:
            if not container.streams.video:
                raise NotAVideo("no video stream")
            stream = container.streams.video[0]
            _decode_cheaply(stream)
            seconds = _duration(container, stream)
            if not seconds:
                raise NotAVideo("no duration")
            if seconds > settings.OUTPUT_MAX_SECONDS:
                raise NotAVideo(f"{seconds:.1f}s is over {settings.OUTPUT_MAX_SECONDS}s")
            width, height = stream.codec_context.width, stream.codec_context.height
            if max(width, height) > settings.OUTPUT_MAX_DIMENSION:
                raise NotAVideo(f"{width}x{height} is over {settings.OUTPUT_MAX_DIMENSION}px")
            if next(container.decode(stream), None) is None:
                raise NotAVideo("no decodable frame")
    except (OSError, ValueError, av.error.FFmpegError) as error:  # not a container PyAV reads
        raise NotAVideo(f"unreadable: {error}") from error


POSTER_MAX_SIDE = 1280
POSTER_AT_SECONDS = 1.0  # past a fade-in from black, which many renders open with
POSTER_MAX_FRAMES = 240  # the frames decoded at most to get there


def poster_jpeg(file) -> bytes:
    """A JPEG (longest side at most POSTER_MAX_SIDE) of the frame about a second into the video
    in `file` (a path or a seekable binary file), or of its middle when shorter; NotAVideo
    when no frame decodes."""
    try:
        with av.open(file, mode="r") as container:
            if not container.streams.video:
                raise NotAVideo("no video stream")
            stream = container.streams.video[0]
            _decode_cheaply(stream)
            # No I- or P-frame refers to a B-frame: skipping B-frames halves the decoding up
            # to `at` (x264's clips: 12 of 25 frames) and the poster is a frame as sharp.
            stream.codec_context.skip_frame = "BIDIR"
            at = min(POSTER_AT_SECONDS, _duration(container, stream) / 2)
            frame = None
            for index, decoded in enumerate(container.decode(stream)):
                frame = decoded
                if index >= POSTER_MAX_FRAMES or (decoded.time or 0.0) >= at:
                    break
            if frame is None:
                raise NotAVideo("no decodable frame")
            image = frame.to_image()
    except (OSError, ValueError, av.error.FFmpegError) as error:
        raise NotAVideo(f"unreadable: {error}") from error
    image.thumbnail((POSTER_MAX_SIDE, POSTER_MAX_SIDE))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=85, optimize=True)
    return buffer.getvalue()


def _decode_cheaply(stream) -> None:
    """One decoding thread: FFmpeg's default (one per core) costs more CPU in all, and a copy
    runs beside the web processes that answer a spike (BENCHMARKS.md)."""
    stream.codec_context.thread_count = 1


def _duration(container, stream) -> float:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:  # in AV_TIME_BASE units (microseconds)
        return container.duration / av.time_base
    return 0.0
