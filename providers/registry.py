"""settings.PROVIDERS → cached backend instances, ordered by PRIORITY; the backends' short names."""

from __future__ import annotations

import threading
from typing import Any, Mapping

from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string

from providers.base import ProviderBackend
from providers.conf import resolve
from providers.events import ProviderEvent
from providers.exceptions import ProviderNotConfigured
from providers.webhooks import jwks

# The short names a BACKEND setting (PROVIDERS_JSON's "backend") may use for a dotted path.
BACKENDS = {
    "replicate": "providers.backends.replicate.ReplicateBackend",
    "wavespeed": "providers.backends.wavespeed.WaveSpeedBackend",
    "fal": "providers.backends.fal.FalBackend",
    "local": "providers.backends.local.LocalBackend",
}

_backends: dict[str, ProviderBackend] = {}
_lock = threading.Lock()


def _all_settings() -> dict[str, dict[str, Any]]:
    providers = getattr(settings, "PROVIDERS", None) or {}
    if not isinstance(providers, dict):
        raise ProviderNotConfigured("settings.PROVIDERS must be a dict of name → settings")
    return providers


def _entry(name: str) -> dict[str, Any]:
    providers = _all_settings()
    if name not in providers:
        raise ProviderNotConfigured(f"settings.PROVIDERS has no provider named {name!r}")
    return providers[name]


def backend_class(name: str) -> type[ProviderBackend]:
    """The class a provider's BACKEND (a short name or a dotted path) names."""
    backend = _entry(name).get("BACKEND")
    if not backend:
        raise ProviderNotConfigured(
            f"settings.PROVIDERS[{name!r}] needs a BACKEND: one of {sorted(BACKENDS)} "
            "or a dotted path")
    try:
        return import_string(BACKENDS.get(backend, backend))
    except ImportError as error:
        raise ProviderNotConfigured(
            f"settings.PROVIDERS[{name!r}]['BACKEND']: {error} (short names: "
            f"{sorted(BACKENDS)})") from error


def get_config(name: str) -> dict[str, Any]:
    """One provider's settings with every default (common, then its backend's) filled in."""
    config = resolve(_entry(name), backend_class(name).default_settings)
    config["BACKEND"] = BACKENDS.get(config["BACKEND"], config["BACKEND"])
    return config


def provider_names() -> list[str]:
    """Configured provider names, preferred first (lower PRIORITY, then name)."""
    return sorted(_all_settings(), key=lambda name: (get_config(name)["PRIORITY"], name))


def get_backend(name: str) -> ProviderBackend:
    """The shared backend instance for a provider (one pooled HTTP client each)."""
    backend = _backends.get(name)
    if backend is not None:
        return backend
    config = get_config(name)
    with _lock:
        if name not in _backends:
            _backends[name] = backend_class(name)(name, config)
        return _backends[name]


def reset() -> None:
    """Forget cached backends (closing their HTTP clients) and cached JWKS keys."""
    with _lock:
        backends = list(_backends.values())
        _backends.clear()
    for backend in backends:
        backend.close()
    jwks.clear_cache()


@receiver(setting_changed)
def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in ("PROVIDERS", "SURGE_VERSION"):
        reset()


def parse_webhook(provider_name: str, *, headers: Mapping[str, str],
                  body: bytes) -> list[ProviderEvent]:
    """Verify a webhook with the provider's verifier, then parse it into normalized events.

    Raises WebhookSignatureInvalid (answer 403/400), WebhookPayloadInvalid (400),
    ProviderNotConfigured (404), or TransientError if fal's JWKS is unreachable (answer 5xx so
    the provider retries).
    """
    backend = get_backend(provider_name)
    if not backend.supports_webhooks:
        raise ProviderNotConfigured(f"provider {provider_name!r} does not send webhooks")
    return backend.webhook_verifier.parse(headers=headers, body=body)
