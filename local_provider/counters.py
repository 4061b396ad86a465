"""Counters for GET /_control: overall and per dialect, with an exact in-flight peak."""

DIALECTS = ("wavespeed", "replicate", "fal")
NAMES = (
    "submitted", "rejected_429", "completed", "failed", "canceled", "boots",
    "webhooks_sent", "webhooks_delivered", "webhooks_failed", "webhooks_dropped",
    "webhooks_duplicated", "webhooks_reordered", "webhook_retries",
)


class Counters:
    """Plain integers mutated only on the event loop thread, so no locking is needed."""

    def __init__(self):
        self.reset({d: 0 for d in DIALECTS})

    def reset(self, in_flight_now: dict) -> None:
        """Zero everything; peaks restart from what is in flight right now, so they stay truthful."""
        self._by = {d: dict.fromkeys(NAMES, 0) for d in DIALECTS}
        self._in_flight = dict(in_flight_now)
        self._peak = dict(in_flight_now)
        self._peak_total = sum(in_flight_now.values())

    def add(self, dialect: str, name: str, n: int = 1) -> None:
        self._by[dialect][name] += n

    def in_flight_changed(self, dialect: str, in_flight: int) -> None:
        """Record the new in-flight value of one dialect and update both peaks."""
        self._in_flight[dialect] = in_flight
        self._peak[dialect] = max(self._peak[dialect], in_flight)
        self._peak_total = max(self._peak_total, sum(self._in_flight.values()))

    def snapshot(self, queued: dict) -> dict:
        by_dialect = {}
        for d in DIALECTS:
            by_dialect[d] = dict(self._by[d], in_flight=self._in_flight[d], peak_in_flight=self._peak[d],
                                 queued=queued.get(d, 0))
        totals = {name: sum(self._by[d][name] for d in DIALECTS) for name in NAMES}
        totals.update(in_flight=sum(self._in_flight.values()), peak_in_flight=self._peak_total,
                      queued=sum(queued.values()), by_dialect=by_dialect)
        return totals
