"""Load generation in the benchmark process: asyncio + aiohttp, open and closed loops, sockets.

Open loop: request i is sent at its scheduled time whatever happened to earlier ones, and its
latency counts from that scheduled time, so a stalled server cannot hide its stall by slowing
the client down (no coordinated omission). Everything goes to 127.0.0.1 and every loop has a
deadline: a benchmark ends by itself even when every request hangs.
"""

from __future__ import annotations

import asyncio
import json
import resource
import time
from dataclasses import dataclass, field
from datetime import datetime

import aiohttp

# Outcomes that are not HTTP status codes.
TIMEOUT = "timeout"
CONNECT_ERROR = "connect_error"
DISCONNECTED = "disconnected"
CLIENT_ERROR = "client_error"
CUTOFF = "cutoff"  # still running when the measurement ended: its latency is a lower bound


def raise_nofile_limit() -> int:
    """Soft RLIMIT_NOFILE up to the hard limit (sockets are files); returns the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY:
        hard = 1 << 20
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def session(limit: int, timeout: float) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=limit, limit_per_host=0, force_close=False,
                                     ttl_dns_cache=None)
    return aiohttp.ClientSession(connector=connector,
                                 timeout=aiohttp.ClientTimeout(total=timeout),
                                 skip_auto_headers=("User-Agent",))


@dataclass
class Outcome:
    """One request: when it was due, how long it took from then, and what came back."""

    due: float  # seconds since the run's zero
    latency: float  # seconds from `due` to the end of the response (or of the failure)
    code: str  # "202", "500", TIMEOUT, …
    body: object = None


def _failure_code(error: BaseException) -> str:
    if isinstance(error, asyncio.TimeoutError):
        return TIMEOUT
    if isinstance(error, aiohttp.WSServerHandshakeError):
        return f"handshake_{error.status}"  # the server answered the upgrade with this status
    if isinstance(error, aiohttp.ClientConnectorError):
        return CONNECT_ERROR
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return DISCONNECTED
    return CLIENT_ERROR


async def request(http: aiohttp.ClientSession, method: str, url: str, *, due: float,
                  zero: float, want_json: bool = False, **kwargs) -> Outcome:
    """Send one request; latency counts from `due` (loop time), not from when it was sent."""
    loop = asyncio.get_running_loop()
    body = None
    try:
        async with http.request(method, url, **kwargs) as response:
            raw = await response.read()
            code = str(response.status)
            if want_json and raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
    except asyncio.CancelledError:
        raise
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
        code = _failure_code(error)
    except Exception:  # anything else still counts, as a client error
        code = CLIENT_ERROR
    return Outcome(due=due - zero, latency=loop.time() - due, code=code, body=body)


@dataclass
class OpenLoop:
    """`count` calls of `call(i, due)` spread evenly over `seconds`, each at its own time."""

    count: int
    seconds: float
    call: object  # async (index, due) -> Outcome
    zero: float  # loop time of the run's zero
    start: float  # loop time of the first call
    outcomes: list[Outcome] = field(default_factory=list)
    lag: list[float] = field(default_factory=list)  # how late the client sent each call
    pending: dict[int, tuple[float, asyncio.Task]] = field(default_factory=dict)

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        step = self.seconds / self.count if self.count else 0.0
        for index in range(self.count):
            due = self.start + index * step
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            self.lag.append(max(0.0, loop.time() - due))
            task = asyncio.create_task(self.call(index, due))
            self.pending[index] = (due, task)
            task.add_done_callback(lambda t, i=index: self._done(i, t))

    def _done(self, index: int, task: asyncio.Task) -> None:
        self.pending.pop(index, None)
        if not task.cancelled() and task.exception() is None and task.result() is not None:
            self.outcomes.append(task.result())

    async def drain(self, deadline: float) -> None:
        """Wait for calls in flight until `deadline` (loop time); the rest become CUTOFF."""
        loop = asyncio.get_running_loop()
        while self.pending and loop.time() < deadline:
            await asyncio.sleep(min(0.1, max(0.0, deadline - loop.time())))
        now = loop.time()
        for index, (due, task) in list(self.pending.items()):
            task.cancel()
            self.outcomes.append(Outcome(due=due - self.zero, latency=now - due, code=CUTOFF))
        self.pending.clear()


async def closed_loop(http: aiohttp.ClientSession, connections: int, seconds: float,
                      make_request, on_outcome=None) -> tuple[list[Outcome], float]:
    """`connections` workers each sending back-to-back for `seconds`: (outcomes, elapsed).

    make_request(worker, n) → (method, url, request kwargs); on_outcome(request kwargs, outcome)
    sees each outcome (with its parsed body when the kwargs asked for want_json)."""
    loop = asyncio.get_running_loop()
    zero = loop.time()
    end = zero + seconds
    outcomes: list[Outcome] = []

    async def worker(worker_index: int) -> None:
        sent = 0
        while loop.time() < end:
            method, url, kwargs = make_request(worker_index, sent)
            sent += 1
            outcome = await request(http, method, url, due=loop.time(), zero=zero, **kwargs)
            if on_outcome is not None:
                on_outcome(kwargs, outcome)
            outcome.body = None
            outcomes.append(outcome)

    workers = [asyncio.create_task(worker(i)) for i in range(connections)]
    # Requests already sent at the end may finish late; they are not counted after a grace.
    done, pending = await asyncio.wait(workers, timeout=seconds + 30)
    for task in pending:
        task.cancel()
    elapsed = loop.time() - zero
    return outcomes, min(elapsed, seconds + 30)


def parse_time(value) -> float | None:
    """An ISO 8601 time from the server (same machine clock) as a Unix timestamp."""
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


@dataclass
class Delivery:
    received: float  # Unix time
    delay: float  # seconds: receipt − the event's `at`
    user_id: int
    job_id: str
    status: str


@dataclass
class _Client:
    """One socket's bookkeeping: counted once its snapshot arrived in time."""

    user_id: int
    first: asyncio.Future  # True: snapshot received; False: closed before it
    counted: bool = False
    abandoned: bool = False


async def _discard(socket) -> None:
    try:
        await asyncio.wait_for(socket.close(), 2)
    except (asyncio.TimeoutError, aiohttp.ClientError, OSError):
        pass


@dataclass
class SocketFleet:
    """Many WebSockets on /ws/jobs/; records every message's type and job.event delivery delay."""

    ws_url: str  # ws://127.0.0.1:PORT/ws/jobs/
    http: aiohttp.ClientSession
    connect_timeout: float = 30.0
    counts: dict[str, int] = field(default_factory=dict)
    deliveries: list[Delivery] = field(default_factory=list)
    position_delays: list[tuple[float, float]] = field(default_factory=list)  # (received, delay)
    positions_without_changed_at: int = 0
    connect_failures: dict[str, int] = field(default_factory=dict)
    disconnects: int = 0
    close_codes: dict[str, int] = field(default_factory=dict)
    opened: int = 0
    opened_by_user: dict[int, int] = field(default_factory=dict)

    def __post_init__(self):
        self._tasks: list[asyncio.Task] = []
        self._sockets: list[aiohttp.ClientWebSocketResponse] = []
        self._closing = False
        self.connect_seconds: list[float] = []

    async def open(self, clients: list[tuple[int, str]], *, concurrency: int = 50,
                   deadline: float | None = None) -> None:
        """Open one socket per (user_id, token), `concurrency` handshakes at a time; each counts
        as open once its snapshot arrived. Stops trying at `deadline` (loop time)."""
        loop = asyncio.get_running_loop()
        gate = asyncio.Semaphore(concurrency)

        async def one(user_id: int, token: str) -> None:
            async with gate:
                started = loop.time()
                try:
                    socket = await self.http.ws_connect(
                        f"{self.ws_url}?token={token}", autoping=True, heartbeat=None,
                        timeout=aiohttp.ClientWSTimeout(ws_close=5), max_msg_size=0,
                        compress=0)
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
                    self._fail(_failure_code(error))
                    return
                client = _Client(user_id, loop.create_future())
                self._sockets.append(socket)
                self._tasks.append(asyncio.create_task(self._listen(socket, client)))
                try:
                    opened = await asyncio.wait_for(asyncio.shield(client.first),
                                                    self.connect_timeout)
                except (asyncio.TimeoutError, asyncio.CancelledError) as error:
                    # Never counted: its messages and its closing are not the benchmark's.
                    client.abandoned = True
                    self._tasks.append(asyncio.create_task(_discard(socket)))
                    if isinstance(error, asyncio.CancelledError):
                        raise
                    self._fail("no_snapshot")
                    return
                if opened:
                    client.counted = True
                    self.opened += 1
                    self.opened_by_user[user_id] = self.opened_by_user.get(user_id, 0) + 1
                    self.connect_seconds.append(loop.time() - started)
                else:
                    self._fail(f"closed_{socket.close_code}")

        tasks = [asyncio.create_task(one(user_id, token)) for user_id, token in clients]
        if not tasks:
            return
        # Handshakes still running at the deadline are abandoned: opening stops on time even
        # when the server stops answering.
        timeout = None if deadline is None else max(0.0, deadline - loop.time())
        _, late = await asyncio.wait(tasks, timeout=timeout)
        for task in late:
            if task.cancel():  # False: it finished after all
                self._fail("deadline")
        await asyncio.gather(*late, return_exceptions=True)

    def _fail(self, kind: str) -> None:
        self.connect_failures[kind] = self.connect_failures.get(kind, 0) + 1

    async def _listen(self, socket, client: _Client) -> None:
        try:
            async for message in socket:
                if message.type != aiohttp.WSMsgType.TEXT or client.abandoned:
                    continue
                received = time.time()
                try:
                    data = json.loads(message.data)
                except ValueError:
                    continue
                kind = data.get("type", "?")
                self.counts[kind] = self.counts.get(kind, 0) + 1
                if kind == "snapshot" and not client.first.done():
                    client.first.set_result(True)
                elif not client.counted:
                    continue
                elif kind == "job.event" and not data.get("replay"):
                    at = parse_time(data.get("at"))
                    if at is not None:
                        self.deliveries.append(Delivery(received, received - at, client.user_id,
                                                        str(data.get("job_id")),
                                                        str(data.get("status"))))
                elif kind in ("queue.position", "queue.positions"):  # one job / all jobs
                    changed = parse_time(data.get("changed_at"))
                    if changed is None:
                        self.positions_without_changed_at += 1
                    else:
                        self.position_delays.append((received, received - changed))
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
            pass
        finally:
            if not client.first.done():
                client.first.set_result(False)
            if client.counted and not self._closing:
                self.disconnects += 1
                code = str(socket.close_code)
                self.close_codes[code] = self.close_codes.get(code, 0) + 1

    async def close(self, timeout: float = 15.0) -> None:
        self._closing = True
        gate = asyncio.Semaphore(200)

        async def gated(socket):
            async with gate:
                await _discard(socket)

        try:
            await asyncio.wait_for(asyncio.gather(*(gated(s) for s in self._sockets)), timeout)
        except asyncio.TimeoutError:
            pass
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
