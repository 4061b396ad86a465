"""Process-local memoisation of cheap-to-stale reads (provider availability, measured times).

Hot paths ask the same question on every request; the answer may lag by a second or so.
"""

from __future__ import annotations

import functools
import threading
import time

_memoized: list = []


def memoize_for(seconds: float):
    """Remember a no-argument function's result for `seconds` in this process."""
    def decorate(function):
        state = {"at": -float("inf"), "value": None}
        lock = threading.Lock()

        @functools.wraps(function)
        def wrapper():
            now = time.monotonic()
            if now - state["at"] < seconds:
                return state["value"]
            with lock:
                if now - state["at"] >= seconds:
                    state["value"], state["at"] = function(), time.monotonic()
                return state["value"]

        wrapper.forget = lambda: state.update(at=-float("inf"))
        _memoized.append(wrapper)
        return wrapper
    return decorate


def forget_all() -> None:
    """Drop every remembered value (tests change settings and rows underneath)."""
    for wrapper in _memoized:
        wrapper.forget()
