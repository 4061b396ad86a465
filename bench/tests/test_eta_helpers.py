"""`bench eta`'s pure helpers: what counts as an ETA going up, and database times."""

from __future__ import annotations

from datetime import datetime, timezone

from bench.db import _timestamp
from bench.eta import rises


def test_a_countdown_is_no_rise_and_a_jump_is_counted_with_or_without_a_cause():
    countdown = [(0.0, "queued", 20), (0.5, "queued", 20), (1.0, "rendering", 19)]
    assert rises(countdown) == (0, 0, 0.0)
    jump = [(0.0, "submitted", 5), (0.5, "rendering", 9)]
    assert rises(jump)[:2] == (1, 0)
    boot = [(0.0, "submitted", 5), (0.5, "warming", 20)]
    assert rises(boot)[:2] == (0, 1)


def test_database_times_are_utc_timestamps():
    moment = datetime(2026, 12, 1, 3, 30, tzinfo=timezone.utc)
    assert _timestamp("2026-12-01 03:30:00") == moment.timestamp()
    assert _timestamp(moment.replace(tzinfo=None)) == moment.timestamp()
    assert _timestamp(None) is None
