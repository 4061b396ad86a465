"""Provider settings: the defaults every settings.PROVIDERS entry shares, and PROVIDERS_JSON."""

from __future__ import annotations

import copy
import json
from typing import Any, Mapping

from django.core.exceptions import ImproperlyConfigured

DEFAULT_TIMEOUTS = {"connect": 5.0, "read": 30.0, "write": 30.0, "pool": 5.0}

# Keys every backend understands. A backend adds its own keys (and its BASE_URL and MODEL) in
# its `default_settings`; a key set to "" or None takes the default.
DEFAULTS: dict[str, Any] = {
    "BASE_URL": "",
    "API_KEY": "",
    "WEBHOOK_SECRET": "",
    "MODEL": "",
    "MAX_CONCURRENCY": 5,  # jobs in flight at the provider; the admin can override it live
    "PRIORITY": 100,
    "WEBHOOKS": True,
    "TIMEOUTS": DEFAULT_TIMEOUTS,
    "WEBHOOK_TOLERANCE_SECONDS": 300,
    "INPUT": {},  # extra model inputs, e.g. {"duration": 5}
}


def resolve(config: Mapping[str, Any],
            backend_defaults: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A copy of one provider's settings over its backend's defaults over DEFAULTS."""
    resolved = copy.deepcopy({**DEFAULTS, **(backend_defaults or {})})
    for key, value in config.items():
        if value is None or value == "":
            resolved.setdefault(key, value)
        else:
            resolved[key] = copy.deepcopy(value)
    resolved["TIMEOUTS"] = {**DEFAULT_TIMEOUTS, **(config.get("TIMEOUTS") or {})}
    resolved["BASE_URL"] = (resolved["BASE_URL"] or "").rstrip("/")
    return resolved


def providers_from_json(raw: str) -> dict[str, dict[str, Any]]:
    """settings.PROVIDERS from PROVIDERS_JSON, a JSON list of {name, backend, base_url, …}.

    `backend` is a short name (see providers.registry.BACKENDS) or a dotted path; the other
    keys are settings keys in lower case.
    """
    try:
        entries = json.loads(raw)
    except json.JSONDecodeError as error:
        raise ImproperlyConfigured(f"PROVIDERS_JSON is not valid JSON: {error}") from error
    if not isinstance(entries, list) or not entries:
        raise ImproperlyConfigured("PROVIDERS_JSON must be a non-empty JSON list")
    providers: dict[str, dict[str, Any]] = {}
    for entry in entries:
        if not isinstance(entry, dict) or not entry.get("name") or not entry.get("backend"):
            raise ImproperlyConfigured("each PROVIDERS_JSON entry needs 'name' and 'backend'")
        name = str(entry["name"])
        if name in providers:
            raise ImproperlyConfigured(f"PROVIDERS_JSON names the provider {name!r} twice")
        providers[name] = {key.upper(): value for key, value in entry.items()
                           if key not in ("name", "backend")}
        providers[name]["BACKEND"] = entry["backend"]
    return providers
