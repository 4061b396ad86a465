"""Each provider's live concurrency limit: the admin's override, else its settings."""

from __future__ import annotations

import time

from django.conf import settings

from jobs.models import ProviderState
from providers.registry import get_config

CACHE_SECONDS = 1.0  # an admin change applies within a second; ETAs don't query per job
_cache: dict = {"at": 0.0, "providers": None, "limits": {}, "order": []}


def configured_limit(name: str) -> int:
    """The provider's MAX_CONCURRENCY from settings, or the providers' default."""
    return int(get_config(name)["MAX_CONCURRENCY"])


def provider_limits() -> dict[str, int]:
    """{provider name: max concurrent jobs} for every configured, enabled provider."""
    _refresh()
    return dict(_cache["limits"])


def provider_order() -> list[str]:
    """Configured provider names, preferred first: the admin's priority, else PRIORITY."""
    _refresh()
    return list(_cache["order"])


def _refresh() -> None:
    now = time.monotonic()
    if _cache["providers"] is settings.PROVIDERS and now - _cache["at"] < CACHE_SECONDS:
        return
    states = {state.name: state for state in ProviderState.objects.all()}
    limits, priorities = {}, {}
    for name in settings.PROVIDERS:
        state = states.get(name)
        priorities[name] = (state.priority if state and state.priority is not None
                            else int(get_config(name)["PRIORITY"]))
        if state is not None and not state.enabled:
            continue
        limits[name] = (state.max_concurrency if state and state.max_concurrency
                        else configured_limit(name))
    order = sorted(priorities, key=lambda name: (priorities[name], name))
    _cache.update(at=now, providers=settings.PROVIDERS, limits=limits, order=order)


def forget_cached_limits() -> None:
    _cache["at"] = 0.0
