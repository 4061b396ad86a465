"""The fast-mode clip cache is safe to share: concurrent renders, and broken clips re-rendered."""

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import av
import pytest

from local_provider import render
from local_provider.config import Knobs
from local_provider.studio import FAST_CLIP_NAME, Studio

SHORT = 1  # seconds of video: enough frames to tell a clip from a broken one, rendered quickly


def render_short(path) -> dict:
    return render.render_clip(render.placeholder_image(256), str(path), seed=0, seconds=SHORT)


def frames_of(path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def audio_only_mp4(path) -> None:
    """An MP4 that opens but has no video stream (what a clobbered cache once held)."""
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("aac", rate=44100)
        frame = av.AudioFrame(format="fltp", layout="stereo", samples=1024)
        frame.rate = 44100
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        for packet in [*stream.encode(frame), *stream.encode()]:
            container.mux(packet)


@pytest.fixture
def broken_clips(tmp_path):
    """name → a path holding that kind of broken clip."""
    valid = tmp_path / "valid.mp4"
    render_short(valid)
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(valid.read_bytes()[:valid.stat().st_size // 2])
    no_video = tmp_path / "no-video.mp4"
    audio_only_mp4(no_video)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.mp4"
    garbage.write_bytes(os.urandom(4096))
    return {"truncated": truncated, "no_video": no_video, "empty": empty, "garbage": garbage,
            "missing": tmp_path / "missing.mp4"}


def test_a_rendered_clip_is_valid(tmp_path):
    path = tmp_path / "clip.mp4"
    render_short(path)
    assert render.clip_problem(str(path)) is None
    assert frames_of(path) == render.FPS * SHORT


@pytest.mark.parametrize("kind", ["truncated", "no_video", "empty", "garbage", "missing"])
def test_broken_clips_are_detected(broken_clips, kind):
    """Truncated, stream-less, empty, garbage or missing files are all named as broken."""
    assert render.clip_problem(str(broken_clips[kind]))


def test_concurrent_renders_into_one_path_leave_a_valid_clip(tmp_path, monkeypatch):
    """Two renders of the same clip at once (two providers sharing a cache) both succeed, and
    the clip left behind plays: each writes its own temporary file and renames it atomically."""
    path = tmp_path / "cache" / FAST_CLIP_NAME
    path.parent.mkdir()
    both_writing = threading.Barrier(2, timeout=60)
    real_open = av.open

    def open_together(file, mode="r", *args, **kwargs):
        container = real_open(file, mode, *args, **kwargs)
        if mode == "w":
            both_writing.wait()  # neither starts encoding before both have opened their output
        return container

    monkeypatch.setattr(render.av, "open", open_together)
    with ThreadPoolExecutor(2) as pool:
        results = [future.result() for future in [pool.submit(render_short, path)
                                                   for _ in range(2)]]
    monkeypatch.undo()
    assert all(result["frames"] == render.FPS * SHORT for result in results)
    assert render.clip_problem(str(path)) is None
    assert frames_of(path) == render.FPS * SHORT
    assert os.listdir(path.parent) == [FAST_CLIP_NAME]  # no temporary file left behind


def load_fast_clip(state_dir) -> tuple[str, bool]:
    """(path, rendered) from a fresh Studio's fast_clip(), as a starting provider loads it."""
    renders = []

    def render_in_a_thread():
        # Not the studio's process pool: its spawn machinery would outlive the test.
        renders.append(ThreadPoolExecutor(1))
        return renders[-1]

    async def main():
        studio = Studio(Knobs(mode="fast"), str(state_dir), 1, asyncio.ensure_future)
        studio._pool = render_in_a_thread
        await studio.start()
        try:
            return await studio.fast_clip()
        finally:
            await studio.close()
            for pool in renders:
                pool.shutdown()
    return asyncio.run(main()), bool(renders)


@pytest.mark.parametrize("kind", ["truncated", "no_video"])
def test_a_broken_cached_clip_is_rendered_again_on_load(tmp_path, broken_clips, kind):
    """A cached clip that does not play is never served: the provider renders it afresh."""
    state_dir = tmp_path / "state"
    (state_dir / "cache").mkdir(parents=True)
    cached = state_dir / "cache" / FAST_CLIP_NAME
    cached.write_bytes(broken_clips[kind].read_bytes())
    path, rendered = load_fast_clip(state_dir)
    assert rendered and path == str(cached)
    assert render.clip_problem(path) is None
    assert frames_of(path) == render.FPS * render.SECONDS


def test_a_valid_cached_clip_is_reused(tmp_path):
    """A clip that plays is served as it is, without starting a render."""
    state_dir = tmp_path / "state"
    (state_dir / "cache").mkdir(parents=True)
    cached = state_dir / "cache" / FAST_CLIP_NAME
    render_short(cached)
    before = cached.stat()
    path, rendered = load_fast_clip(state_dir)
    assert not rendered and path == str(cached)
    assert (cached.stat().st_ino, cached.stat().st_mtime_ns) == (before.st_ino,
                                                                 before.st_mtime_ns)
