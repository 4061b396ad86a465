"""settings.PROVIDERS resolves to cached backends with defaults filled in."""

from __future__ import annotations

import pytest
from django.test import override_settings

from providers import registry
from providers.backends.fake import FakeBackend
from providers.backends.replicate import ReplicateBackend
from providers.conf import DEFAULT_TIMEOUTS, DEFAULTS
from providers.exceptions import ProviderNotConfigured

FAKE = "providers.backends.fake.FakeBackend"


def test_provider_names_follow_priority(settings):
    settings.PROVIDERS = {"b": {"BACKEND": FAKE, "PRIORITY": 20},
                          "a": {"BACKEND": FAKE, "PRIORITY": 30},
                          "c": {"BACKEND": FAKE, "PRIORITY": 10},
                          "d": {"BACKEND": FAKE}}
    assert registry.provider_names() == ["c", "b", "a", "d"]


def test_defaults_fill_absent_keys(settings):
    settings.PROVIDERS = {"p": {"BACKEND": FAKE, "TIMEOUTS": {"read": 3}}}
    config = registry.get_config("p")
    assert config["TIMEOUTS"] == {**DEFAULT_TIMEOUTS, "read": 3}
    assert config["WEBHOOK_TOLERANCE_SECONDS"] == 300
    assert config["MAX_CONCURRENCY"] == DEFAULTS["MAX_CONCURRENCY"] == 5
    assert config["WEBHOOKS"] is True


def test_backends_are_cached_and_reset_when_settings_change(settings):
    settings.PROVIDERS = {"p": {"BACKEND": FAKE}}
    backend = registry.get_backend("p")
    assert isinstance(backend, FakeBackend) and registry.get_backend("p") is backend
    with override_settings(PROVIDERS={"p": {"BACKEND": FAKE, "MODEL": "other/model"}}):
        assert registry.get_backend("p").model == "other/model"
    assert registry.get_backend("p") is not backend


def test_unknown_provider_and_bad_backend(settings):
    settings.PROVIDERS = {"p": {"BACKEND": "providers.backends.nope.Nope"}, "q": {}}
    with pytest.raises(ProviderNotConfigured):
        registry.get_backend("missing")
    with pytest.raises(ProviderNotConfigured):
        registry.get_backend("p")
    with pytest.raises(ProviderNotConfigured):
        registry.get_backend("q")


def test_backend_short_names(settings):
    """BACKEND may be a short name from the registry; the config names the class."""
    settings.PROVIDERS = {"r": {"BACKEND": "replicate", "MODEL": "o/m"},
                          "w": {"BACKEND": "providers.backends.wavespeed.WaveSpeedBackend"}}
    assert sorted(registry.BACKENDS) == ["fal", "local", "replicate", "wavespeed"]
    assert isinstance(registry.get_backend("r"), ReplicateBackend)
    config = registry.get_config("r")
    assert config["BACKEND"] == "providers.backends.replicate.ReplicateBackend"
    assert config["WARMING_AFTER_SECONDS"] == 5.0  # the backend's own defaults are filled in
    assert "WARMING_AFTER_SECONDS" not in registry.get_config("w")


def test_unknown_short_name_lists_the_known_ones(settings):
    settings.PROVIDERS = {"p": {"BACKEND": "replicat"}}
    with pytest.raises(ProviderNotConfigured, match="replicate"):
        registry.get_config("p")


def test_project_settings_resolve():
    """Whatever the project configures (the local provider by default) instantiates."""
    for name in registry.provider_names():
        assert registry.get_backend(name).name == name
