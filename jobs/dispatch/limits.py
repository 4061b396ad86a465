"""Each provider's live concurrency limit: the admin's override, else settings."""

from __future__ import annotations

from django.conf import settings

from jobs.models import ProviderState

DEFAULT_MAX_CONCURRENCY = 5


def provider_limits() -> dict[str, int]:
    """{provider name: max concurrent jobs} for every configured, enabled provider."""
    states = {state.name: state for state in ProviderState.objects.all()}
    limits = {}
    for name, config in settings.PROVIDERS.items():
        state = states.get(name)
        if state is not None and not state.enabled:
            continue
        configured = int(config.get("MAX_CONCURRENCY", DEFAULT_MAX_CONCURRENCY))
        limits[name] = state.max_concurrency if state and state.max_concurrency else configured
    return limits
