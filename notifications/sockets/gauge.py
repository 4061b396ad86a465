"""This process's open WebSockets, published to Redis for /metrics (jobs/ops/counters.py).

The value is one key per process with a short TTL, refreshed while sockets are open, so a
process that dies stops counting on its own.
"""

from __future__ import annotations

import asyncio

from jobs.ops import counters

REFRESH_SECONDS = 30  # well inside counters.GAUGE_TTL_SECONDS
_state: dict = {"open": 0, "loop": None, "task": None}


async def socket_opened() -> None:
    _state["open"] += 1
    await _publish()
    loop = asyncio.get_running_loop()
    if _state["loop"] is not loop or _state["task"] is None or _state["task"].done():
        _state["loop"], _state["task"] = loop, loop.create_task(_refresh_while_open())


async def socket_closed() -> None:
    _state["open"] = max(0, _state["open"] - 1)
    await _publish()


def open_sockets() -> int:
    return _state["open"]


async def _publish() -> None:
    await asyncio.to_thread(counters.set_process_gauge, counters.WEBSOCKETS, _state["open"])


async def _refresh_while_open() -> None:
    while _state["open"] > 0:
        await asyncio.sleep(REFRESH_SECONDS)
        await _publish()
