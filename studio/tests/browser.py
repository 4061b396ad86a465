"""Helpers for browser tests: run Django code off Playwright's event loop, sessions, artifacts."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
from django.db import connection
from PIL import Image

from jobs.services.transitions import job_transition
from launcher.embedded import BASE_DIR
from project.testing.sessions import signed_in_session_key

ARTIFACTS = BASE_DIR / "test-artifacts"
# The widths every page is checked at: a laptop's and a phone's.
VIEWPORTS = {"laptop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


def in_thread(function, *args, **kwargs):
    """Sync Playwright runs an event loop in the test's thread; Django's ORM and async_to_sync
    refuse to run there, so database work happens in a plain thread."""
    def call():
        try:
            return function(*args, **kwargs)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(call).result()


def login_cookie(user, base_url: str) -> dict:
    return {"name": "sessionid", "value": in_thread(signed_in_session_key, user), "url": base_url}


def tiny_mp4(width: int = 128, height: int = 160, frames: int = 24) -> bytes:
    """A real H.264 MP4 (a moving neon gradient), small enough to make in a few milliseconds."""

    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(frames):
            image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
            image = Image.merge("RGB", (image.getchannel(0), Image.new("L", image.size, 40),
                                        Image.new("L", image.size, (index * 10) % 255)))
            for packet in stream.encode(av.VideoFrame.from_image(image)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return buffer.getvalue()


def shot(page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def step(job, status, **kwargs):
    """Move a job as the engine would, from a browser test (off Playwright's event loop)."""
    return in_thread(job_transition, job_id=job.id, status=status, source="test", **kwargs)
