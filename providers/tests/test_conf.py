"""Provider settings: shared defaults under each backend's own, and PROVIDERS_JSON."""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ImproperlyConfigured

from providers.backends.fal import DEFAULT_JWKS_URL, FalBackend
from providers.backends.replicate import ReplicateBackend
from providers.backends.wavespeed import WaveSpeedBackend
from providers.conf import DEFAULTS, providers_from_json, resolve


def test_backend_defaults_sit_between_the_shared_ones_and_the_settings():
    """A backend's default_settings fill what settings leave out; settings win."""
    config = resolve({"MODEL": "o/m", "CANCEL_AFTER": "10m"}, ReplicateBackend.default_settings)
    assert config["BASE_URL"] == "https://api.replicate.com"
    assert config["MODEL"] == "o/m" and config["CANCEL_AFTER"] == "10m"
    assert config["WARMING_AFTER_SECONDS"] == 5.0
    assert config["MAX_CONCURRENCY"] == DEFAULTS["MAX_CONCURRENCY"]


def test_vendor_keys_belong_to_their_backend():
    """The shared defaults hold no vendor's keys; each backend brings its own."""
    assert not {"DIALECT", "JWKS_URL", "WARMING_AFTER_SECONDS", "CANCEL_AFTER",
                "WEBHOOK_IN_BODY"} & set(DEFAULTS)
    assert "WARMING_AFTER_SECONDS" not in WaveSpeedBackend("w", {}).config
    assert WaveSpeedBackend("w", {}).config["WEBHOOK_IN_BODY"] is False


def test_empty_values_take_the_default():
    """An empty BASE_URL or JWKS_URL (e.g. from a template) means the backend's default."""
    backend = FalBackend("f", {"BASE_URL": "", "JWKS_URL": None, "MODEL": ""})
    assert backend.base_url == "https://queue.fal.run"
    assert backend.config["JWKS_URL"] == DEFAULT_JWKS_URL
    assert backend.model == FalBackend.default_settings["MODEL"]


def test_resolve_copies_so_backends_cannot_share_state():
    """Each resolved config is a deep copy: changing one leaves settings and defaults alone."""
    settings_entry = {"INPUT": {"duration": 5}}
    config = resolve(settings_entry)
    config["INPUT"]["duration"] = 9
    config["TIMEOUTS"]["read"] = 1
    assert settings_entry["INPUT"]["duration"] == 5
    assert resolve({})["TIMEOUTS"]["read"] == DEFAULTS["TIMEOUTS"]["read"]


def test_providers_json_becomes_settings():
    """Lower-case keys become settings keys; backend short names are kept for the registry."""
    providers = providers_from_json(json.dumps([
        {"name": "replicate", "backend": "replicate", "api_key": "r8_x", "max_concurrency": 10,
         "timeouts": {"read": 10}},
        {"name": "mine", "backend": "my.module.Backend", "priority": 5},
    ]))
    assert providers == {
        "replicate": {"BACKEND": "replicate", "API_KEY": "r8_x", "MAX_CONCURRENCY": 10,
                      "TIMEOUTS": {"read": 10}},
        "mine": {"BACKEND": "my.module.Backend", "PRIORITY": 5},
    }


@pytest.mark.parametrize("raw,message", [
    ("[{", "not valid JSON"),
    ("{}", "non-empty JSON list"),
    ("[]", "non-empty JSON list"),
    ('[{"name": "a"}]', "needs 'name' and 'backend'"),
    ('[{"backend": "fal"}]', "needs 'name' and 'backend'"),
    ('["fal"]', "needs 'name' and 'backend'"),
    ('[{"name": "a", "backend": "fal"}, {"name": "a", "backend": "replicate"}]', "twice"),
])
def test_bad_providers_json_is_refused_with_a_reason(raw, message):
    with pytest.raises(ImproperlyConfigured, match=message):
        providers_from_json(raw)
