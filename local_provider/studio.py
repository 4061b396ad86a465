"""Produces a job's video: fetches the image, renders in a process pool (or copies the cached clip)."""

import asyncio
import base64
import io
import logging
import multiprocessing
import os
import shutil
from concurrent.futures import ProcessPoolExecutor
from typing import Callable

import aiohttp
from PIL import Image

from . import render
from .config import Knobs
from .looks import DEFAULT_LOOK, look_for

log = logging.getLogger("local_provider")

TOTAL_FRAMES = render.FPS * render.SECONDS
MAX_IMAGE_BYTES = 20 * 1024 * 1024
FAST_CLIP_NAME = "fast-clip-v1.mp4"  # the default look's; each other look has its own


def fast_clip_name(look: str) -> str:
    return FAST_CLIP_NAME if look == DEFAULT_LOOK else f"fast-clip-v1-{look}.mp4"


def job_prompt(job) -> str | None:
    """The prompt a job was submitted with, whatever the dialect (all put it in the input)."""
    prompt = (job.input or {}).get("prompt")
    return prompt if isinstance(prompt, str) else None


class JobFailure(Exception):
    """A job ends as failed with this message (bad input, render error, injected failure)."""

    def __init__(self, message: str, code: str = "task_failed"):
        super().__init__(message)
        self.code = code


class Studio:
    """The render side of the engine; jobs come in, an mp4 in the outputs dir (or JobFailure) comes out."""

    def __init__(self, knobs: Knobs, state_dir: str, workers: int, spawn: Callable):
        self.knobs = knobs
        self.spawn = spawn
        self.workers = workers
        self.outputs_dir = os.path.join(state_dir, "outputs")
        self.cache_dir = os.path.join(state_dir, "cache")
        os.makedirs(self.outputs_dir, exist_ok=True)
        os.makedirs(self.cache_dir, exist_ok=True)
        # Jobs live in memory only, so outputs of a previous run can never be served again.
        for name in os.listdir(self.outputs_dir):
            unlink_quietly(os.path.join(self.outputs_dir, name))
        self.http: aiohttp.ClientSession | None = None
        self._executor: ProcessPoolExecutor | None = None
        self._fast_clips: dict[str, asyncio.Future] = {}

    async def start(self) -> None:
        self.http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))

    async def close(self) -> None:
        if self.http:
            await self.http.close()
        if self._executor:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def fetch_image(self, url: str) -> bytes:
        if url.startswith("data:"):
            try:
                data = base64.b64decode(url.split(",", 1)[1])
            except (IndexError, ValueError) as exc:
                raise JobFailure(f"Invalid data URI for image: {exc}", "bad_input") from None
        else:
            try:
                async with self.http.get(url) as resp:
                    if resp.status != 200:
                        raise JobFailure(f"Failed to fetch image from {url}: HTTP {resp.status}", "media_unreachable")
                    data = bytearray()
                    async for chunk in resp.content.iter_chunked(1 << 16):
                        data += chunk
                        if len(data) > MAX_IMAGE_BYTES:
                            break
                    data = bytes(data)
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
                raise JobFailure(f"Failed to fetch image from {url}: {exc!r}", "media_unreachable") from None
        if len(data) > MAX_IMAGE_BYTES:
            raise JobFailure("Image is larger than 20 MB", "bad_input")
        try:
            Image.open(io.BytesIO(data)).size  # header only: cheap, and catches non-images in fast mode too
        except Exception as exc:
            raise JobFailure(f"Image could not be decoded: {exc}", "bad_input") from None
        return data

    def output_path(self, job_id: str) -> str:
        return os.path.join(self.outputs_dir, f"{job_id}.mp4")

    async def produce(self, job, image: bytes, on_progress: Callable[[int, float], None]) -> None:
        """Real (or cached) rendering, never faster than render_seconds, reporting per frame batch."""
        loop = asyncio.get_running_loop()
        start, min_seconds = loop.time(), self.knobs.effective_render_seconds
        out = self.output_path(job.id)
        progress_path, control_path = out + ".progress", out + ".stop"
        fast = self.knobs.mode == "fast"
        prompt = job_prompt(job)
        if fast:
            work = self.spawn(self._copy_fast_clip(out, look_for(prompt)))
        else:
            work = loop.run_in_executor(self._pool(), render.render_clip_job, image, out, job.render_seed,
                                        progress_path, control_path, prompt)
        try:
            while True:
                min_seconds = self.knobs.effective_render_seconds  # live: a control update applies at once
                time_frac = 1.0 if min_seconds <= 0 else min(1.0, (loop.time() - start) / min_seconds)
                if work.done() and (work.cancelled() or work.exception() is not None):
                    break  # work.result() below turns it into the job's failure
                if work.done():
                    work_frac = 1.0
                elif fast:
                    work_frac = 0.99
                else:
                    done_total = render.read_progress(progress_path)
                    work_frac = done_total[0] / done_total[1] if done_total else 0.0
                frac = min(time_frac, work_frac)
                if job.fail_at is not None and frac >= job.fail_at:
                    raise JobFailure("Simulated failure: the model crashed during inference", "task_failed")
                frames = min(TOTAL_FRAMES, int(frac * TOTAL_FRAMES) // render.BATCH * render.BATCH)
                if frac >= 1.0:
                    frames = TOTAL_FRAMES
                if frames > job.frames_done:
                    on_progress(frames, loop.time() - start)
                if work.done() and time_frac >= 1.0:
                    break
                await asyncio.sleep(self._next_tick(start, min_seconds, job.frames_done, work.done(), loop))
            try:
                work.result()
            except render.RenderCancelled:
                raise JobFailure("Render was stopped", "task_failed") from None
            except (OSError, ValueError, RuntimeError) as exc:
                raise JobFailure(f"Render failed: {exc}", "task_failed") from None
        except BaseException:
            if not work.done():
                if fast:
                    work.cancel()
                else:
                    # A running worker process cannot be cancelled: ask it to stop at its next batch.
                    open(control_path, "w").close()
            raise
        finally:
            unlink_quietly(progress_path)
            if work.done():
                unlink_quietly(control_path)
            else:
                work.add_done_callback(lambda _f: (unlink_quietly(control_path), unlink_quietly(out)))

    def _next_tick(self, start, min_seconds, frames_done, work_done, loop) -> float:
        """Sleep until the next frame batch is due instead of polling (load tests run many jobs)."""
        due = 0.0
        if min_seconds > 0:
            share = min(TOTAL_FRAMES, frames_done + render.BATCH) / TOTAL_FRAMES if frames_done < TOTAL_FRAMES else 1.0
            due = max(0.0, start + min_seconds * share - loop.time())
        if work_done:
            return due
        return min(due, 0.05) if due > 0 else 0.05  # the worker's progress file is polled meanwhile

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            # spawn, not fork: forking a process that runs an event loop and threads is unsafe.
            self._executor = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self._executor

    def fast_clip(self, look: str = DEFAULT_LOOK) -> asyncio.Future:
        """The path of a look's fast-mode clip, at first need: the cached clip if it plays, else
        rendered anew. One clip per look, so fast mode still shows which style was picked."""
        if look not in self._fast_clips:
            future = asyncio.ensure_future(self._load_fast_clip(look))
            future.add_done_callback(lambda done: self._fast_clip_done(look, done))
            self._fast_clips[look] = future
        return self._fast_clips[look]

    async def _load_fast_clip(self, look: str) -> str:
        path = os.path.join(self.cache_dir, fast_clip_name(look))
        loop = asyncio.get_running_loop()
        # The cache dir may be shared, and a clip left by a crash or an older version may not play:
        # serving it would make every fast-mode job "succeed" with a broken video.
        problem = await loop.run_in_executor(None, render.clip_problem, path)
        if problem is None:
            return path
        if os.path.exists(path):
            log.warning("cached fast-mode clip %s is broken (%s): rendering it again", path, problem)
        # The look's own keyword is a prompt that picks it.
        await loop.run_in_executor(self._pool(), render.render_clip_job, render.placeholder_image(), path, 0,
                                   None, None, look)
        return path

    def _fast_clip_done(self, look: str, future: asyncio.Future) -> None:
        if future.cancelled() or future.exception() is not None:
            log.error("fast-mode clip render failed: %r", None if future.cancelled() else future.exception())
            self._fast_clips.pop(look, None)  # let the next job try again

    async def _copy_fast_clip(self, out: str, look: str) -> None:
        path = await asyncio.shield(self.fast_clip(look))
        unlink_quietly(out)
        try:
            os.link(path, out)  # outputs are read-only copies of one clip: a hard link is enough
        except OSError:
            shutil.copyfile(path, out)


def tqdm_line(n: int, total: int, elapsed: float) -> str:
    """A progress line in tqdm's default format, which Replicate clients parse for progress."""
    pct = int(100 * n / total)
    filled = int(10 * n / total)
    bar = "█" * filled + " " * (10 - filled)
    rate = n / elapsed if elapsed > 0 else 0.0
    remaining = (total - n) / rate if rate > 0 else 0.0
    return f"{pct:3d}%|{bar}| {n}/{total} [{_mmss(elapsed)}<{_mmss(remaining)}, {rate:.2f}it/s]"


def _mmss(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 60:02d}:{seconds % 60:02d}"


def unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
