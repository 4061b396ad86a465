"""Provider slots: a Redis semaphore with leases, shared by every worker on every machine.

One sorted set per provider: member = job id, score = lease expiry (Unix seconds). A crashed
worker's slot returns when its lease expires; the reconciler renews the leases of jobs the
database says are at the provider and drops the rest. After a Redis restart the sets are
empty, so the first acquire re-seeds them from the database before counting (no over-submit).
"""

from __future__ import annotations

import time

from django.conf import settings

from jobs.dispatch import redis as dispatch_redis
from jobs.dispatch.wakeup import SLOTS_FULL
from jobs.selectors import jobs_holding_slots

SLOT_LEASE_SECONDS = 180

# KEYS[1] slot set, KEYS[2] "seeded" marker; ARGV: now, limit, job id, lease expiry.
_ACQUIRE = """
if redis.call('EXISTS', KEYS[2]) == 0 then return -1 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZSCORE', KEYS[1], ARGV[3]) then
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3]) return 1
end
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[4], ARGV[3]) return 1
end
return 0
"""


def _slot_key(provider: str) -> str:
    return dispatch_redis.key("slots", provider)


def _seeded_key(provider: str) -> str:
    return dispatch_redis.key("slots", provider, "seeded")


def acquire(*, provider: str, job_id, limit: int) -> bool:
    """Take one of `limit` slots of `provider` for `job_id`; False when all are taken."""
    client = dispatch_redis.client()
    now = time.time()
    args = [now, limit, str(job_id), now + SLOT_LEASE_SECONDS]
    keys = [_slot_key(provider), _seeded_key(provider)]
    result = client.eval(_ACQUIRE, 2, *keys, *args)
    if result == -1:
        resync(provider=provider)
        result = client.eval(_ACQUIRE, 2, *keys, *args)
    return result == 1


def release(*, provider: str, job_id) -> None:
    """Free the job's slot; inside a one_round_trip() block it goes with the block's other
    commands, in order (a wake-up queued after it finds the slot free). A Redis failure is
    logged: the slot's lease ends, or the reconciler's resync drops it."""
    dispatch_redis.send(lambda pipe: pipe.zrem(_slot_key(provider), str(job_id)),
                        what=f"release of {provider}'s slot of {job_id}")


def in_use(*, provider: str) -> int:
    """Slots of `provider` taken, expired leases dropped first (the dispatcher counts every
    provider at once with count_for_dispatch)."""
    pipe = dispatch_redis.client().pipeline(transaction=False)
    pipe.zremrangebyscore(_slot_key(provider), "-inf", time.time())
    pipe.zcard(_slot_key(provider))
    return pipe.execute()[1]


# KEYS: full mark, slot sets...; ARGV: now, mark lifetime ms, limits... (as the sets). Counted
# and marked in one script, so a slot freed meanwhile finds the mark already set: its wake-up,
# sent after the release, then gets a pass that clears it.
_COUNT_AND_MARK = """
local counts, full = {}, true
for i = 2, #KEYS do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', ARGV[1])
  counts[i - 1] = redis.call('ZCARD', KEYS[i])
  if counts[i - 1] < tonumber(ARGV[i + 1]) then full = false end
end
if full then redis.call('SET', KEYS[1], 1, 'PX', ARGV[2]) else redis.call('DEL', KEYS[1]) end
return counts
"""
# The mark outlives no dispatcher: their passes renew or clear it every RECONCILE_INTERVAL.
FULL_MARK_SECONDS = 60


def count_for_dispatch(limits: dict[str, int]) -> dict[str, int]:
    """{provider: slots taken} (expired leases dropped first), and mark "every slot taken" for
    request_dispatch (set when every provider is at its limit, cleared otherwise)."""
    providers = list(limits)
    counts = dispatch_redis.client().eval(
        _COUNT_AND_MARK, 1 + len(providers), dispatch_redis.key(SLOTS_FULL),
        *(_slot_key(provider) for provider in providers), time.time(),
        FULL_MARK_SECONDS * 1000, *(limits[provider] for provider in providers))
    return dict(zip(providers, counts, strict=True))


def holders(*, provider: str) -> set[str]:
    return {member.decode() for member in dispatch_redis.client().zrange(_slot_key(provider), 0, -1)}


# KEYS[1] slot set, KEYS[2] marker; ARGV: holders' lease expiry, cutoff, holder ids...
# Members not held in the database are dropped unless acquired within the grace period, which
# covers a job whose slot was just taken and whose claim is not committed yet.
_RESYNC = """
local holding = {}
for i = 3, #ARGV do
  holding[ARGV[i]] = true
  redis.call('ZADD', KEYS[1], ARGV[1], ARGV[i])
end
local members = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #members, 2 do
  if not holding[members[i]] and tonumber(members[i + 1]) < tonumber(ARGV[2]) then
    redis.call('ZREM', KEYS[1], members[i])
  end
end
redis.call('SET', KEYS[2], 1)
return #members / 2
"""
CLAIM_GRACE_SECONDS = 30


def resync(*, provider: str) -> None:
    """Renew the leases of jobs the database says hold a slot; drop stale members."""
    holding = [str(job_id) for job_id in jobs_holding_slots(provider=provider)]
    now = time.time()
    dispatch_redis.client().eval(
        _RESYNC, 2, _slot_key(provider), _seeded_key(provider), now + SLOT_LEASE_SECONDS,
        now + SLOT_LEASE_SECONDS - CLAIM_GRACE_SECONDS, *holding)


def resync_all() -> None:
    for provider in settings.PROVIDERS:
        resync(provider=provider)
