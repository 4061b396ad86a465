"""Job lifecycle: admission and queueing, cold boots, rendering, exact in-flight accounting, faults."""

import asyncio
import logging
import math
import random
import string
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from .config import Knobs
from .counters import DIALECTS, Counters
from .studio import TOTAL_FRAMES, JobFailure, Studio, tqdm_line, unlink_quietly

log = logging.getLogger("local_provider")

QUEUED, BOOTING, PROCESSING = "queued", "booting", "processing"
SUCCEEDED, FAILED, CANCELED = "succeeded", "failed", "canceled"
TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELED})


class OverLimit(Exception):
    """Submission refused because the dialect is at max_concurrency in reject mode."""

    def __init__(self, retry_after: int):
        super().__init__(f"concurrency limit reached, retry after {retry_after}s")
        self.retry_after = retry_after


@dataclass
class LogLine:
    timestamp: float
    message: str
    level: str = "INFO"


@dataclass
class Job:
    """One submitted prediction, whatever the dialect; dialects only format it."""

    id: str
    dialect: str
    model: str
    input: dict
    image_url: str
    base_url: str
    webhook: str | None = None
    events_filter: frozenset | None = None
    extra: dict = field(default_factory=dict)
    state: str = QUEUED
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    completed_at: float | None = None
    logs: list = field(default_factory=list)
    frames_done: int = 0
    error: str | None = None
    error_code: str | None = None
    data_removed: bool = False
    fail_at: float | None = None
    render_seed: int = 0
    holds_slot: bool = False
    active: bool = False
    task: asyncio.Task | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL


class DialectPool:
    """Concurrency slots, FIFO queue and the warm/cold model of one dialect."""

    def __init__(self, name: str):
        self.name = name
        self.in_flight = 0
        self.active = 0
        self.queue: deque[Job] = deque()
        self.model_state = "cold"
        self.boot_task: asyncio.Future | None = None
        self.last_used = 0.0

    def is_warm(self, now: float, idle_unload: float) -> bool:
        """Idle unloading is evaluated lazily: a warm model with nothing running goes cold after idle_unload."""
        if self.model_state == "warm" and self.active == 0 and now - self.last_used > idle_unload:
            self.model_state = "cold"
        return self.model_state == "warm"


def _id_for(dialect: str, rng: random.Random) -> str:
    if dialect == "replicate":
        return "".join(rng.choices(string.ascii_lowercase + "234567", k=26))
    if dialect == "fal":
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))
    return "%032x" % rng.getrandbits(128)


class Engine:
    """Owns every job; all mutation happens on the event loop, which makes the accounting exact."""

    def __init__(self, knobs: Knobs, state_dir: str, render_workers: int = 2):
        self.knobs = knobs
        self.rng = random.Random(knobs.seed)
        self.jobs: dict[str, Job] = {}
        self.pools = {d: DialectPool(d) for d in DIALECTS}
        self.counters = Counters()
        self.listener: Callable[[Job, str], None] = lambda job, kind: None
        self.studio = Studio(knobs, state_dir, render_workers, self.spawn)
        self._live_outputs: set[str] = set()
        self._closing = False
        self._tasks: set[asyncio.Future] = set()

    # -- lifecycle of the engine itself -------------------------------------------------------
    async def start(self) -> None:
        await self.studio.start()
        self.spawn(self._sweep_outputs())
        if self.knobs.mode == "fast":
            self.studio.fast_clip()  # warm the cache so the first fast job does not pay for it

    async def close(self) -> None:
        """Idempotent: called on shutdown and again on cleanup."""
        self._closing = True  # cancelled jobs must not admit queued ones or send webhooks now
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.studio.close()

    def spawn(self, coro) -> asyncio.Task:
        """Keep a strong reference to background tasks (asyncio only holds weak ones)."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def reseed(self, seed: int | None) -> None:
        self.rng.seed(seed)

    # -- admission --------------------------------------------------------------------------------
    def submit(self, dialect: str, **spec) -> Job:
        """Accept a job or raise OverLimit; synchronous, so check-and-take of a slot is atomic."""
        pool = self.pools[dialect]
        if self.knobs.over_limit == "reject" and pool.in_flight + len(pool.queue) >= self.knobs.max_concurrency:
            self.counters.add(dialect, "rejected_429")
            raise OverLimit(self.retry_after())
        job_id = _id_for(dialect, self.rng)
        while job_id in self.jobs:  # only possible after re-seeding with a used seed
            job_id = _id_for(dialect, self.rng)
        job = Job(id=job_id, dialect=dialect, **spec)
        fails = self.rng.random() < self.knobs.failure_rate
        fail_at = self.rng.uniform(0.2, 0.8)
        job.fail_at = fail_at if fails else None
        job.render_seed = self.rng.getrandbits(32)
        self.jobs[job.id] = job
        self.counters.add(dialect, "submitted")
        pool.queue.append(job)
        self._emit(job, "start")
        self._pump(pool)
        return job

    def retry_after(self) -> int:
        return max(1, math.ceil(self.knobs.effective_render_seconds))

    def queue_position(self, job: Job) -> int:
        try:
            return self.pools[job.dialect].queue.index(job)
        except ValueError:
            return 0

    def _pump(self, pool: DialectPool) -> None:
        """Move queued jobs into free slots; the only place a slot is taken."""
        if self._closing:
            return
        while pool.queue and pool.in_flight < self.knobs.max_concurrency:
            job = pool.queue.popleft()
            if job.terminal:
                continue
            pool.in_flight += 1
            job.holds_slot = True
            self.counters.in_flight_changed(pool.name, pool.in_flight)
            job.task = self.spawn(self._run(job))

    def pump_all(self) -> None:
        for pool in self.pools.values():
            self._pump(pool)

    def queued(self) -> dict:
        return {name: len(pool.queue) for name, pool in self.pools.items()}

    # -- running a job ----------------------------------------------------------------------------
    async def _run(self, job: Job) -> None:
        pool = self.pools[job.dialect]
        loop = asyncio.get_running_loop()
        try:
            if not pool.is_warm(loop.time(), self.knobs.effective_idle_unload_seconds):
                job.state = BOOTING
                self.add_log(job, "Booting model…")
                await self._boot(pool)
                self.add_log(job, "Model booted in %.1fs" % self.knobs.effective_boot_seconds)
            job.state, job.started_at, job.active = PROCESSING, time.time(), True
            pool.active += 1
            pool.last_used = loop.time()
            self.add_log(job, f"Generating video for model {job.model}")
            image = await self.studio.fetch_image(job.image_url)
            await self.studio.produce(job, image, lambda frames, elapsed: self._report_progress(job, frames, elapsed))
            self._finish(job, SUCCEEDED)
        except JobFailure as exc:
            self._finish(job, FAILED, str(exc), exc.code)
        except asyncio.CancelledError:
            self._finish(job, CANCELED)
        except Exception as exc:  # a bug here must fail the job, never leak its slot
            log.exception("job %s crashed", job.id)
            self._finish(job, FAILED, f"Internal error: {exc}", "server_error")

    async def _boot(self, pool: DialectPool) -> None:
        if pool.boot_task is None or pool.boot_task.done():
            pool.model_state = "booting"
            self.counters.add(pool.name, "boots")
            pool.boot_task = self.spawn(self._boot_model(pool))
        # Shielded: cancelling one waiting job must not abort the boot others wait on.
        await asyncio.shield(pool.boot_task)

    async def _boot_model(self, pool: DialectPool) -> None:
        await asyncio.sleep(self.knobs.effective_boot_seconds)
        pool.model_state = "warm"
        pool.last_used = asyncio.get_running_loop().time()

    def warmup(self, dialect: str) -> str:
        """Keep-warm: "warm" (idle timer reset) or "booting" (a boot was started or is running)."""
        pool = self.pools[dialect]
        loop = asyncio.get_running_loop()
        if pool.is_warm(loop.time(), self.knobs.effective_idle_unload_seconds):
            pool.last_used = loop.time()
            return "warm"
        if pool.model_state != "booting":
            self.spawn(self._boot(pool))
        return "booting"

    def unload_models(self) -> None:
        for pool in self.pools.values():
            if pool.model_state == "warm" and pool.active == 0:
                pool.model_state = "cold"

    def model_states(self) -> dict:
        now, idle = asyncio.get_running_loop().time(), self.knobs.effective_idle_unload_seconds
        return {name: ("warm" if pool.is_warm(now, idle) else pool.model_state) for name, pool in self.pools.items()}

    def _report_progress(self, job: Job, frames: int, elapsed: float) -> None:
        job.frames_done = frames
        self.add_log(job, tqdm_line(frames, TOTAL_FRAMES, elapsed))

    # -- endings ----------------------------------------------------------------------------------
    def cancel(self, job: Job) -> bool:
        """Cancel a queued or running job; False if it had already finished."""
        if job.terminal:
            return False
        pool = self.pools[job.dialect]
        if job in pool.queue:
            pool.queue.remove(job)
        self._finish(job, CANCELED)
        if job.task and not job.task.done():
            job.task.cancel()
        return True

    def cancel_after(self, job: Job, seconds: float) -> None:
        asyncio.get_running_loop().call_later(seconds, self.cancel, job)

    def _finish(self, job: Job, state: str, error: str | None = None, code: str | None = None) -> None:
        """The single terminal transition: frees the slot in the same step, then admits the next job."""
        if job.terminal:
            return
        pool = self.pools[job.dialect]
        job.state, job.error, job.error_code, job.completed_at = state, error, code, time.time()
        if state == CANCELED:
            self.add_log(job, "Prediction canceled", emit=False)
        elif state == FAILED:
            self.add_log(job, f"Error: {error}", level="ERROR", emit=False)
        self.counters.add(job.dialect, {SUCCEEDED: "completed", FAILED: "failed", CANCELED: "canceled"}[state])
        if job.active:
            job.active = False
            pool.active -= 1
            pool.last_used = asyncio.get_running_loop().time()
        if job.holds_slot:
            job.holds_slot = False
            pool.in_flight -= 1
            self.counters.in_flight_changed(pool.name, pool.in_flight)
        if state == SUCCEEDED:
            self._live_outputs.add(job.id)
            self._emit(job, "output")
        job.done.set()
        self._emit(job, "completed")
        self._pump(pool)

    def add_log(self, job: Job, message: str, level: str = "INFO", emit: bool = True) -> None:
        job.logs.append(LogLine(time.time(), message, level))
        if emit:
            self._emit(job, "logs")

    def _emit(self, job: Job, kind: str) -> None:
        if self._closing:
            return
        try:
            self.listener(job, kind)
        except Exception:  # a webhook formatting bug must never break the job lifecycle
            log.exception("webhook listener failed for %s/%s", job.id, kind)

    # -- outputs ----------------------------------------------------------------------------------
    def output_available(self, job: Job) -> bool:
        """True while the output can be served; expiry is checked against the TTL in force now."""
        if job.state != SUCCEEDED or job.data_removed:
            return False
        if time.time() > job.completed_at + self.knobs.output_ttl_seconds:
            job.data_removed = True
            self._live_outputs.discard(job.id)
            unlink_quietly(self.studio.output_path(job.id))
            return False
        return True

    async def _sweep_outputs(self) -> None:
        """Delete expired files even if nobody asks for them again."""
        while True:
            await asyncio.sleep(1.0)
            for job_id in list(self._live_outputs):
                self.output_available(self.jobs[job_id])
