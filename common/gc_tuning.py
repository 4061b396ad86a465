"""Short, rare full garbage collections in the long-running processes (web, dispatcher, copier).

A full collection walks every tracked object with the whole process stopped. Django, DRF and
the app's modules are ~150,000 objects that live as long as the process, and under a spike a
web process ran a full pass every ~9 s, each 120–190 ms (measured through gc.callbacks).
Requests queued behind each pause, and a thread paused while holding SQLite's write lock held
up every writer on the machine: the bursts in the spike's submit p99.

So, once started: freeze what startup built (gc.freeze(): those objects are never walked
again), and ask for a full pass only after 100 collections of the middle generation instead of
10. Young generations are still collected as often as before, so the cycles a request leaves
behind are freed as they were; measured over a spike, full passes went from ~16 to 1.
"""

from __future__ import annotations

import gc

from django.urls import get_resolver

# Collections of the middle generation between two full ones (Python's default: 10).
FULL_COLLECTION_EVERY = 100


def freeze_startup_objects() -> None:
    """Load what the first requests would load lazily, drop startup garbage, freeze the rest,
    and make full collections rarer. Call once, when the process has finished starting."""
    get_resolver().url_patterns  # imports every view, serializer and URLconf
    gc.collect()  # frozen garbage would never be freed
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)
