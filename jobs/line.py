"""The waiting line's order: one sortable number per queued job, fixed when it joins.

Fair share by rounds (start-time fair queueing): a user's jobs take consecutive rounds, and a
job never starts in a round earlier than the one the line is serving, so everyone's n-th job
goes before anyone's (n+1)-th and a single job is never stuck behind another user's backlog.
`line_key = round << 41 | milliseconds since 2020` orders by round, then arrival; round 0 is
the head of the line (a job a provider bounced with 429). Because the key never changes while
a job waits, a position is a rank in the line's index in Redis (jobs/dispatch/line_rank.py),
the dispatcher reads the line from a database index, and nothing walks the line per request.
"""

from __future__ import annotations

from datetime import datetime, timezone

ROUND_SHIFT = 41  # 2**41 ms is 69 years after the epoch below
EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)
HEAD_ROUND = 0
FIRST_ROUND = 1


def line_key(*, round_: int, at: datetime) -> int:
    milliseconds = int((at - EPOCH).total_seconds() * 1000)
    return (round_ << ROUND_SHIFT) | max(0, min(milliseconds, (1 << ROUND_SHIFT) - 1))


def round_of(key: int | None) -> int:
    return (key or 0) >> ROUND_SHIFT


def next_round(*, users_last_round: int | None, serving_round: int | None) -> int:
    """The round of a user's new job: after their own unfinished ones, not before the line's
    current round (one before the first waiting round: the round providers are working on)."""
    own = (users_last_round or 0) + 1
    current = (serving_round - 1) if serving_round else FIRST_ROUND
    return max(own, current, FIRST_ROUND)
