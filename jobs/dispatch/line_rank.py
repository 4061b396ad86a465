"""The waiting line mirrored in Redis, so a job's place is a rank, not a count of the line.

A place counted in the database ("queued jobs with a smaller key", jobs/line.py) walks every
job ahead in the index: with 4,000 waiting, ~1 ms of PostgreSQL per status poll and per
accepted submission, the database's largest cost in the spike, growing with the line. Here
every queued job is a member of one sorted set, all at score 0 and named
`<line key, 20 digits>:<job id hex>`, so Redis orders them as the dispatcher does (line key,
then id) and ZLEXCOUNT counts the jobs ahead of any job in O(log n) — whether or not the job
itself is in the set yet.

The state machine tells the set when a job joins or leaves the line, in the Redis round trip
its commit already makes (jobs/services/transitions.py). The set is trusted only while its
`seeded` marker exists: `resync` (the reconciler's pass) rebuilds it from the database when
the marker is missing (a Redis restart) or its size disagrees with the line's; until then
places come from the database. Every change first bumps a version, and a rebuild applies only
if no change came between its version read and its write: a change committed during the
rebuild's read would otherwise be undone by it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from jobs.dispatch import redis as dispatch_redis
from jobs.models import Job, JobStatus

logger = logging.getLogger(__name__)


def _key(name: str) -> str:
    return dispatch_redis.key("line", name)


def member(*, line_key: int, job_id) -> str:
    """Sorts as (line_key, id) does in the database: ids compare as their 32 hex digits there
    (PostgreSQL's uuid bytes, SQLite's char(32))."""
    return f"{line_key:020d}:{job_id.hex}"


def _queue_ahead_count(pipe, *, line_key: int, job_id) -> None:
    """Queue the count of members before this job's: its place, whether or not it is in."""
    pipe.zlexcount(_key("jobs"), "-", "(" + member(line_key=line_key, job_id=job_id))


def record_move(*, job: Job, left: int | None, joined: int | None) -> None:
    """A committed change: the job left the line at key `left` and/or joined it at `joined`
    (None: not in the line before / after). Joins the caller's one_round_trip() block, and a
    job that joined gets its place read in the same round trip: the 202 answering its
    submission needs it, and another round trip is another wait for the GIL."""
    if left == joined:
        return

    def commands(pipe) -> None:
        pipe.incr(_key("version"))  # first: a rebuild running meanwhile must not apply
        if left is not None:
            pipe.zrem(_key("jobs"), member(line_key=left, job_id=job.id))
        if joined is not None:
            pipe.zadd(_key("jobs"), {member(line_key=joined, job_id=job.id): 0})
            pipe.exists(_key("seeded"))
            _queue_ahead_count(pipe, line_key=joined, job_id=job.id)

    def then(results: list) -> None:
        seeded, ahead = results[-2:]
        if seeded:
            setattr(job, _PLACE_AT_COMMIT, (joined, ahead))

    dispatch_redis.send(commands, what=f"the line's index of {job.id}",
                        then=then if joined is not None else None)


_PLACE_AT_COMMIT = "_line_place_at_commit"  # (line key, jobs ahead), read once by places()


def places(jobs: Iterable[Job]) -> dict[str, int] | None:
    """{job id: jobs ahead of it} for these queued jobs, or None when the index cannot be
    trusted (not seeded since Redis started, or Redis unreachable): ask the database then.
    A job's place read as it joined the line is used once, without asking Redis."""
    known, unknown = {}, []
    for job in jobs:
        at_commit = job.__dict__.pop(_PLACE_AT_COMMIT, None)
        if at_commit is not None and at_commit[0] == job.line_key:
            known[str(job.id)] = at_commit[1]
        else:
            unknown.append(job)
    if not unknown:
        return known
    pipe = dispatch_redis.client().pipeline(transaction=False)
    pipe.exists(_key("seeded"))
    for job in unknown:
        _queue_ahead_count(pipe, line_key=job.line_key, job_id=job.id)
    try:
        seeded, *ahead = pipe.execute()
    except Exception:
        logger.warning("could not read places in line from Redis", exc_info=True)
        return None
    if not seeded:
        return None
    return known | {str(job.id): count for job, count in zip(unknown, ahead, strict=True)}


# KEYS: the set, its marker, the version; ARGV[1]: the version read before the database was,
# then the members. Replaces the set only if no change came in between.
_REBUILD = """
if (redis.call('GET', KEYS[3]) or '') ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 0, ARGV[i]) end
redis.call('SET', KEYS[2], 1)
return 1
"""


def resync() -> bool | None:
    """Rebuild the index from the database if it is unseeded or its size is off; True when
    rebuilt, False when a change raced the rebuild (the next pass tries again), None when it
    was already in step. It runs in the dispatcher: the line's rows are read only when a
    rebuild is due, not on every pass (a read of thousands of rows there delays a freed
    slot's next job)."""
    client = dispatch_redis.client()
    pipe = client.pipeline(transaction=False)
    pipe.get(_key("version"))
    pipe.exists(_key("seeded"))
    pipe.zcard(_key("jobs"))
    version, seeded, size = pipe.execute()
    queued = Job.objects.filter(status=JobStatus.QUEUED)
    if seeded and size == queued.count():
        return None
    members = [member(line_key=line_key, job_id=job_id)
               for line_key, job_id in queued.order_by().values_list("line_key", "id")]
    keys = [_key("jobs"), _key("seeded"), _key("version")]
    rebuilt = client.eval(_REBUILD, 3, *keys, (version or b"").decode(), *members) == 1
    if not rebuilt:
        logger.info("the line's index changed while being rebuilt; trying again next pass")
    return rebuilt
