"""Result mirroring only fetches from providers, never from private addresses (SSRF)."""

import pytest

from jobs.dispatch.mirror import OutputRefused, check_output_url


@pytest.fixture
def provider_at(settings):
    settings.PROVIDERS = {"p": {"BACKEND": "providers.backends.local.LocalBackend",
                                "BASE_URL": "http://127.0.0.1:8003"},
                          "v": {"BACKEND": "replicate", "BASE_URL": "http://127.0.0.1:8004"}}
    settings.OUTPUT_URL_ALLOWED_HOSTS = []


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:6379/",            # loopback, not the provider's port
    "https://127.0.0.1/video.mp4",
    "https://169.254.169.254/latest/meta-data/",  # cloud metadata
    "https://10.0.0.5/x.mp4",
    "https://[::1]/x.mp4",
    "http://example.com/x.mp4",          # not https
    "file:///etc/passwd",
    "ftp://127.0.0.1:8003/x",
    "http://127.0.0.1:8003/_control",    # the provider's host, but not one of its output paths
    "http://127.0.0.1:8003/outputs/../_control",
    "http://127.0.0.1:8003/outputs/%2e%2e/_control",
    "https://127.0.0.1:8003/outputs/abc.mp4",  # not the scheme of its BASE_URL
    "http://127.0.0.1:8004/outputs/abc.mp4",   # a vendor backend declares no output paths
])
def test_refused(provider_at, url):
    with pytest.raises(OutputRefused):
        check_output_url(url)


def test_a_providers_declared_output_path_is_allowed(provider_at):
    """The local provider's /outputs/ is allowed on its private host, and nothing else there."""
    check_output_url("http://127.0.0.1:8003/outputs/abc.mp4")


def test_an_operator_allowed_host_is_allowed(provider_at, settings):
    settings.OUTPUT_URL_ALLOWED_HOSTS = ["127.0.0.1:8004"]
    check_output_url("http://127.0.0.1:8004/anything.mp4")
