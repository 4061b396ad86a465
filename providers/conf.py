"""Defaults for every key of a settings.PROVIDERS entry, applied in one place."""

from __future__ import annotations

import copy
from typing import Any

DEFAULT_TIMEOUTS = {"connect": 5.0, "read": 30.0, "write": 30.0, "pool": 5.0}

DEFAULTS: dict[str, Any] = {
    "BASE_URL": "",  # empty: the backend's own default_base_url
    "API_KEY": "",
    "WEBHOOK_SECRET": "",
    "MODEL": "",  # empty: the backend's own default_model
    "MAX_CONCURRENCY": 10,
    "PRIORITY": 100,
    "WEBHOOKS": True,
    "TIMEOUTS": DEFAULT_TIMEOUTS,
    "DIALECT": "replicate",  # LocalBackend only
    "JWKS_URL": "",  # fal only; empty: derived from the backend
    "JWKS_CACHE_SECONDS": 24 * 3600,  # fal says: cache at most 24 h
    "WEBHOOK_TOLERANCE_SECONDS": 300,
    "WARMING_AFTER_SECONDS": 5.0,  # Replicate: `starting` longer than this is a cold boot
    "INPUT": {},  # extra model inputs, e.g. {"duration": 5}
    "CANCEL_AFTER": "",  # Replicate: Cancel-After header, e.g. "10m" (caps spend on stuck jobs)
    "WEBHOOK_IN_BODY": False,  # WaveSpeed: also send body `webhook_url` (documented ambiguously)
}


def resolve(config: dict[str, Any]) -> dict[str, Any]:
    """A copy of one provider's settings with every absent key filled from DEFAULTS."""
    resolved = copy.deepcopy(DEFAULTS)
    resolved.update(copy.deepcopy(dict(config)))
    resolved["TIMEOUTS"] = {**DEFAULT_TIMEOUTS, **(config.get("TIMEOUTS") or {})}
    resolved["BASE_URL"] = (resolved["BASE_URL"] or "").rstrip("/")
    return resolved
