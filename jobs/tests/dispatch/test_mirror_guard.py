"""Result mirroring only fetches from providers, never from private addresses (SSRF)."""

import pytest

from jobs.dispatch.mirror import OutputRefused, check_output_url


@pytest.fixture
def provider_at(settings):
    settings.PROVIDERS = {"p": {"BACKEND": "providers.backends.local.LocalBackend",
                                "BASE_URL": "http://127.0.0.1:8003"}}


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:6379/",            # loopback, not the provider's port
    "https://127.0.0.1/video.mp4",
    "https://169.254.169.254/latest/meta-data/",  # cloud metadata
    "https://10.0.0.5/x.mp4",
    "https://[::1]/x.mp4",
    "http://example.com/x.mp4",          # not https
    "file:///etc/passwd",
    "ftp://127.0.0.1:8003/x",
])
def test_refused(provider_at, url):
    with pytest.raises(OutputRefused):
        check_output_url(url)


def test_the_configured_provider_host_is_allowed(provider_at):
    check_output_url("http://127.0.0.1:8003/outputs/abc.mp4")
