"""Group commit: writes that arrive while another is being written go together in the next one.

On SQLite every write transaction holds one lock for the whole machine, and under a spike it
was held more than half of the time, submissions being most of it; requests queued behind it
in the seconds when many writers met (BENCHMARKS.md). Where writes run one at a time anyway, a
thread that finds a batch being written loses nothing by not starting a transaction of its
own: it waits, and the first of the waiters writes everyone's in one transaction when the
current batch is done. A write that finds nobody writing goes at once, so a quiet app pays
nothing; the busier, the bigger the batches. (Where transactions run side by side, as on
PostgreSQL, this would make them wait for each other.)

No thread of its own: the writing is done by a caller (the leader), who hands the next batch to
the first thread that waited for it, so nobody writes the batches of those who came later.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

Payload = TypeVar("Payload")
Result = TypeVar("Result")


class _Waiter(Generic[Payload, Result]):
    __slots__ = ("payload", "ready", "lead", "result", "failed")

    def __init__(self, payload: Payload):
        self.payload = payload
        self.ready = threading.Event()
        self.lead = False  # woken to write the next batch, not with a result
        self.result: Result | None = None
        self.failed = False  # its batch failed: write it alone, so the error is its own


class GroupCommit(Generic[Payload, Result]):
    """`write(payloads)` writes a batch in one transaction and returns one result per payload,
    in order. `submit(payload)` returns that payload's result once it is committed."""

    def __init__(self, write: Callable[[Sequence[Payload]], Sequence[Result]]):
        self._write = write
        self._lock = threading.Lock()
        self._waiting: list[_Waiter[Payload, Result]] = []
        self._writing = False

    def submit(self, payload: Payload) -> Result:
        me: _Waiter[Payload, Result] = _Waiter(payload)
        with self._lock:
            self._waiting.append(me)
            leads = not self._writing
            self._writing = True
        if not leads:
            me.ready.wait()
            if not me.lead:
                return self._outcome(me)
        with self._lock:
            batch, self._waiting = self._waiting, []
        try:
            results = self._write([waiter.payload for waiter in batch])
            for waiter, result in zip(batch, results, strict=True):
                waiter.result = result
        except BaseException:
            if len(batch) == 1:
                raise  # its own error: nothing to tell apart
            for waiter in batch:
                waiter.failed = True
        finally:
            self._hand_over()
            for waiter in batch:
                if waiter is not me:
                    waiter.ready.set()
        return self._outcome(me)

    def _hand_over(self) -> None:
        """The first thread that waited for this batch writes the next one; else nobody writes."""
        with self._lock:
            if self._waiting:
                self._waiting[0].lead = True
                self._waiting[0].ready.set()
            else:
                self._writing = False

    def _outcome(self, waiter: _Waiter[Payload, Result]) -> Result:
        if waiter.failed:  # one bad payload must not fail the others: each tries alone
            return self._write([waiter.payload])[0]
        return waiter.result  # type: ignore[return-value]
