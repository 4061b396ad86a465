"""Is a downloaded file a video we may serve? PyAV opens it and decodes one frame."""

from __future__ import annotations

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


def _duration(container, stream) -> float:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:  # in AV_TIME_BASE units (microseconds)
        return container.duration / av.time_base
    return 0.0
