"""Queue positions for everyone waiting: one query and one message per user, at most ~2/s.

Sending each queued job its new position on every dispatch costs O(queue) messages per
dispatch and O(queue²) per drain. Instead, whenever a job enters or leaves the line, one
coalesced pass reads the line from its index (jobs/line.py: no window over active jobs) and
publishes one `queue.positions` message to each user group that has queued jobs, all in one
Redis round trip: O(users) messages per pass and at most ~2 passes a second, whatever the rate
of dispatches. Consumers forward a job's position only when it changed; each message carries
`changed_at`, the time of the earliest change it reflects, so clients can see how fresh it is.

A user whose first job is near the front (NEAR_FRONT places) is told every pass; one farther
back every FAR_EVERY-th pass (5 s at the default interval): those places move by a few a
second, and in a spike they were most of the socket processes' frames (BENCHMARKS.md, ninth
pass). A reconnect's snapshot always has the exact place.

A pass reads the whole line, so it runs in a task worker, never in the process whose change
asked for it: in a web process it held the GIL for tens of milliseconds at a time with
thousands in line, and every request waited (the submit p99 of the spike), and in the
dispatcher it delayed the next slot.
"""

from __future__ import annotations

import logging
import threading
from typing import TypedDict

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from common.tasks import enqueue
from jobs.dispatch import redis as dispatch_redis
from jobs.eta import Timings, cause_of, eta_seconds, promise
from jobs.events import publish, user_group
from jobs.models import Job, JobEvent, JobStatus
from jobs.selectors import queued_jobs_in_dispatch_order

logger = logging.getLogger(__name__)

NEAR_FRONT = 50  # a user with a job among the first this many places is told every pass
FAR_EVERY = 5  # the others every this many passes

# Statuses a job can have just after entering or leaving the line.
QUEUE_CHANGING = frozenset({JobStatus.QUEUED, JobStatus.DISPATCHING, JobStatus.CANCELED,
                            JobStatus.FAILED})


class QueuedJobPosition(TypedDict):
    job_id: str
    queue_position: int  # jobs ahead of this one; 0 = next
    eta_seconds: int


class QueuePositionsMessage(TypedDict):
    type: str  # "queue.positions": consumers handle it in queue_positions()
    user_id: int
    jobs: list[QueuedJobPosition]
    at: str
    changed_at: str  # the earliest line change this pass reflects


def on_job_event(*, job: Job, event: JobEvent) -> None:
    """JOB_EVENT_HOOKS entry: the line changed, so positions need a (coalesced) refresh."""
    if event.status in QUEUE_CHANGING:
        request_queue_broadcast()


# KEYS: changed, lock, trailing, changed since the last pass that told everyone; ARGV: now
# (ISO), interval ms. Returns -1: broadcast now; n >= 0: a trailing pass in n ms; -2: one is
# already planned. One round trip per change.
_REQUEST = """
redis.call('SET', KEYS[1], ARGV[1], 'NX')
redis.call('SET', KEYS[4], ARGV[1], 'NX')
if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[2]) then return -1 end
if redis.call('SET', KEYS[3], '1', 'NX', 'PX', tonumber(ARGV[2]) * 4) then
  return math.max(redis.call('PTTL', KEYS[2]), 0)
end
return -2
"""


def request_queue_broadcast() -> None:
    """Broadcast now unless one ran in the last interval; then once more when it ends."""
    interval_ms = max(1, int(settings.QUEUE_BROADCAST_INTERVAL * 1000))
    # Positions are a courtesy: if Redis is down, the next change or a reconnect fixes them.
    dispatch_redis.send(
        lambda pipe: pipe.eval(_REQUEST, 4, _key("changed"), _key("lock"), _key("trailing"),
                               _key("changed-far"), timezone.now().isoformat(), interval_ms),
        what="the queue broadcast's request", then=lambda results: _plan(results[0]))


BROADCAST_TASK = "notifications.sockets.queue_broadcast.queue_broadcast_task"


def _plan(plan: int) -> None:
    if plan == -1:
        enqueue(BROADCAST_TASK, name="queue positions")
    elif plan >= 0:  # a change inside the window must still be seen: one trailing pass
        _schedule(plan / 1000 + 0.01, _trailing_broadcast)


_timers: list[threading.Timer] = []


def _schedule(wait: float, function) -> None:
    """Run `function` on a thread of its own after `wait` seconds."""
    def run() -> None:
        try:
            function()
        finally:
            close_old_connections()
            if threading.current_thread() in _timers:
                _timers.remove(threading.current_thread())

    timer = threading.Timer(wait, run)
    timer.daemon = True
    _timers.append(timer)
    timer.start()


def queue_broadcast_task() -> None:
    """The task a leading request hands to the workers: one pass."""
    try:
        broadcast_queue_positions()
    except Exception:  # a courtesy: the next change or a reconnect fixes positions
        logger.warning("queue position broadcast failed", exc_info=True)


def wait_for_trailing_broadcasts(timeout: float = 5.0) -> None:
    """Let scheduled passes finish (tests call this before the database goes away)."""
    for _ in range(3):  # a trailing pass may schedule one more
        for timer in list(_timers):
            timer.join(timeout)


def _trailing_broadcast() -> None:
    dispatch_redis.client().delete(_key("trailing"))
    request_queue_broadcast()


def queue_positions_by_user(*, near_front_only: bool = False
                            ) -> dict[int, list[QueuedJobPosition]]:
    """{user id: positions of that user's queued jobs}, from ONE query over the whole line;
    `near_front_only`: of the users with a job among the first NEAR_FRONT places (the others'
    ETAs are not worked out either)."""
    timings = Timings()
    rows = queued_jobs_in_dispatch_order().values_list("id", "user_id", "attempts")
    line = [(str(job_id), user_id, attempts, position) for position, (job_id, user_id, attempts)
            in enumerate(rows.iterator(chunk_size=2000))]
    if near_front_only:
        near = {user_id for _, user_id, _, position in line[:NEAR_FRONT]}
        line = [entry for entry in line if entry[1] in near]
    cold = timings.expect_cold()
    etas = promise({job_id: (
        cause_of(status=JobStatus.QUEUED, attempts=attempts, warming_at=None, dispatched_at=None,
                 boot_expected=cold),
        eta_seconds(status=JobStatus.QUEUED, progress=0.0, position=position, timings=timings))
        for job_id, _, attempts, position in line})
    by_user: dict[int, list[QueuedJobPosition]] = {}
    for job_id, user_id, _, position in line:
        by_user.setdefault(user_id, []).append(
            {"job_id": job_id, "queue_position": position, "eta_seconds": etas[job_id]})
    return by_user


# KEYS: changed, changed since the last pass that told everyone, pass count; ARGV: FAR_EVERY.
# Returns {earliest change since the last pass, and since the last pass that told everyone,
# or false when this pass tells only the users near the front}.
_START_PASS = """
local changed = redis.call('GET', KEYS[1])
redis.call('DEL', KEYS[1])
if redis.call('INCR', KEYS[3]) % tonumber(ARGV[1]) ~= 0 then return {changed, false} end
local far = redis.call('GET', KEYS[2]) or ''
redis.call('DEL', KEYS[2])
return {changed, far}
"""


def broadcast_queue_positions() -> int:
    """Publish one `queue.positions` message per user with queued jobs (every FAR_EVERY-th
    pass; the others only to users near the front); returns how many."""
    changed, changed_far = dispatch_redis.client().eval(
        _START_PASS, 3, _key("changed"), _key("changed-far"), _key("passes"), FAR_EVERY)
    at = timezone.now().isoformat()
    by_user = queue_positions_by_user(near_front_only=changed_far is None)
    near = changed.decode() if changed else at
    # Users told only now heard last of the line several passes ago.
    far = changed_far.decode() if changed_far else near
    publish([(user_group(user_id), QueuePositionsMessage(
        type="queue.positions", user_id=user_id, jobs=jobs, at=at,
        changed_at=near if jobs[0]["queue_position"] < NEAR_FRONT else min(near, far)))
        for user_id, jobs in by_user.items()])
    return len(by_user)


def _key(name: str) -> str:
    return dispatch_redis.key("queue-broadcast", name)
