"""Normalized provider events and submissions, the only shapes the rest of the app sees."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

STATUSES = ("queued", "warming", "rendering", "succeeded", "failed", "canceled")
TERMINAL_STATUSES = frozenset({"succeeded", "failed", "canceled"})


@dataclass(frozen=True)
class ProviderEvent:
    """One observation of a provider job: from a poll, a submit response or a webhook."""

    provider: str
    provider_job_id: str
    event_id: str
    status: str
    progress: float | None = None
    output_url: str | None = None
    error_code: str | None = None
    error_message: str | None = None
    permanent_error: bool = False
    detail: str = ""
    raw: dict = field(default_factory=dict, compare=False, hash=False, repr=False)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown normalized status {self.status!r}")
        if self.progress is not None and not 0.0 <= self.progress <= 1.0:
            raise ValueError(f"progress {self.progress!r} is outside 0..1")

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


@dataclass
class Submission:
    """What a successful submit returns: the provider's job id, and its first state if known."""

    provider_job_id: str
    event: ProviderEvent | None = None


def stable_event_id(*parts: Any) -> str:
    """An idempotency key for events that carry none: the same observation gives the same id."""
    blob = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return "h:" + hashlib.sha256(blob.encode()).hexdigest()[:32]


def clamp_progress(value: float | None) -> float | None:
    """Progress as a 0..1 float, or None when unknown."""
    if value is None:
        return None
    return min(1.0, max(0.0, float(value)))
