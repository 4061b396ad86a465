"""Webhook delivery: per-job ordered outbox, throttling, retries with backoff, and injected faults."""

import asyncio
import email.utils
import logging
import random
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

import aiohttp

from .config import Knobs
from .counters import Counters

log = logging.getLogger("local_provider.webhooks")

# Nominal retry schedule in seconds (scaled by time_scale); real providers retry for minutes to hours.
BACKOFF_SECONDS = (5, 15, 30, 60, 120, 300)
THROTTLE_SECONDS = 0.5
USER_AGENT = "local-provider-webhooks/1.0"


@dataclass
class Outgoing:
    """One webhook message: the body is frozen when the event happens, the signature at each attempt."""

    dialect: str
    url: str
    body: bytes
    msg_id: str
    sign: Callable[[str, int, bytes], dict]
    retry: bool
    terminal: bool


@dataclass
class Outbox:
    """Per-job delivery state: messages go out one at a time, in order (unless reordering is injected)."""

    items: deque = field(default_factory=deque)
    held: list = field(default_factory=list)
    worker: asyncio.Task | None = None
    last_throttled: float = float("-inf")
    trailing: asyncio.TimerHandle | None = None


class WebhookDispatcher:
    """Turns job events into deliveries; the dialect decides what a message looks like."""

    def __init__(self, knobs: Knobs, rng: random.Random, counters: Counters, spawn: Callable):
        self.knobs = knobs
        self.rng = rng
        self.counters = counters
        self.spawn = spawn
        self.session: aiohttp.ClientSession | None = None
        self._boxes: dict[str, Outbox] = {}

    async def start(self) -> None:
        self.session = aiohttp.ClientSession()

    async def close(self) -> None:
        if self.session:
            await self.session.close()

    def push(self, job_id: str, make: Callable[[], Outgoing | None], *, throttle: bool = False,
             is_live: Callable[[], bool] = lambda: True) -> None:
        """Queue a message built by make(); throttled kinds are coalesced to one per 500 ms."""
        box = self._boxes.setdefault(job_id, Outbox())
        loop = asyncio.get_running_loop()
        if throttle:
            if box.trailing is not None:
                return  # a send is already scheduled and will snapshot the latest state
            wait = box.last_throttled + THROTTLE_SECONDS - loop.time()
            if wait > 0:
                box.trailing = loop.call_later(wait, self._fire_trailing, job_id, box, make, is_live)
                return
            box.last_throttled = loop.time()
        message = make()
        if message is None:
            return
        if message.terminal and box.trailing is not None:
            box.trailing.cancel()  # the terminal body already carries everything the trailing one would
            box.trailing = None
        self._enqueue(job_id, box, message)

    def _fire_trailing(self, job_id, box, make, is_live) -> None:
        box.trailing = None
        if not is_live():
            return
        box.last_throttled = asyncio.get_running_loop().time()
        message = make()
        if message is not None:
            self._enqueue(job_id, box, message)

    def _enqueue(self, job_id: str, box: Outbox, message: Outgoing) -> None:
        # Draw all three decisions every time so a seed gives the same sequence whatever the knobs.
        drop, duplicate, reorder = self.rng.random(), self.rng.random(), self.rng.random()
        if drop < self.knobs.webhook_drop:
            self.counters.add(message.dialect, "webhooks_dropped")
            return
        box.items.append((message, reorder < self.knobs.webhook_reorder and not message.terminal))
        if duplicate < self.knobs.webhook_duplicate:
            self.counters.add(message.dialect, "webhooks_duplicated")
            box.items.append((message, False))
        if box.worker is None or box.worker.done():
            box.worker = self.spawn(self._drain(job_id, box, message.dialect))

    async def _drain(self, job_id: str, box: Outbox, dialect: str) -> None:
        while box.items:
            message, hold = box.items.popleft()
            if hold:
                # Held back until the next message has gone out, so that one overtakes it.
                self.counters.add(dialect, "webhooks_reordered")
                box.held.append(message)
                continue
            await self._deliver(message)
            while box.held:
                await self._deliver(box.held.pop(0))
            if message.terminal and not box.items:
                self._boxes.pop(job_id, None)

    async def _deliver(self, message: Outgoing) -> None:
        if self.knobs.webhook_delay_seconds:
            await asyncio.sleep(self.knobs.webhook_delay_seconds)
        attempt = 0
        while True:
            retry_after = None
            headers = message.sign(message.msg_id, int(time.time()), message.body)
            headers.update({"Content-Type": "application/json", "User-Agent": USER_AGENT})
            self.counters.add(message.dialect, "webhooks_sent")
            try:
                timeout = aiohttp.ClientTimeout(total=self.knobs.webhook_timeout_seconds)
                async with self.session.post(message.url, data=message.body, headers=headers, timeout=timeout,
                                             allow_redirects=False) as resp:
                    await resp.read()
                    status, retry_after = resp.status, resp.headers.get("Retry-After")
            except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
                status = None
                log.info("webhook %s to %s failed: %r", message.msg_id, message.url, exc)
            if status is not None and 200 <= status < 300:
                self.counters.add(message.dialect, "webhooks_delivered")
                return
            if not message.retry or attempt >= self.knobs.webhook_max_retries:
                self.counters.add(message.dialect, "webhooks_failed")
                return
            wait = BACKOFF_SECONDS[min(attempt, len(BACKOFF_SECONDS) - 1)]
            wait = max(wait, parse_retry_after(retry_after)) * self.knobs.time_scale
            attempt += 1
            self.counters.add(message.dialect, "webhook_retries")
            await asyncio.sleep(wait)


def parse_retry_after(value: str | None) -> float:
    """Retry-After as seconds or an HTTP date; 0 when absent or unparsable."""
    if not value:
        return 0.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return 0.0
