"""Each backend declares where its provider serves results; the mirror trusts only those paths."""

import pytest

from providers.backends.fal import FalBackend
from providers.backends.local import LocalBackend
from providers.backends.replicate import ReplicateBackend
from providers.backends.wavespeed import WaveSpeedBackend


def test_the_local_provider_serves_outputs_at_its_root_whatever_the_dialect():
    """The local backend's output path sits at its BASE_URL's root, not under the dialect."""
    backend = LocalBackend("l", {"BASE_URL": "http://127.0.0.1:8003/", "DIALECT": "fal"})
    assert backend.output_url_allowed("http://127.0.0.1:8003/outputs/abc.mp4")
    assert not backend.output_url_allowed("http://127.0.0.1:8003/_control")
    assert not backend.output_url_allowed("http://127.0.0.1:8003/fal/outputs/abc.mp4")
    assert not backend.output_url_allowed("http://127.0.0.1:8003/outputs/../_control")
    assert not backend.output_url_allowed("http://127.0.0.1:8999/outputs/abc.mp4")


@pytest.mark.parametrize("backend_class", [ReplicateBackend, WaveSpeedBackend, FalBackend])
def test_vendors_declare_no_output_paths(backend_class):
    """Vendors deliver from public https CDNs: their API host is never an exemption."""
    backend = backend_class("v", {"API_KEY": "k"})
    assert not backend.output_url_allowed(f"{backend.base_url}/outputs/abc.mp4")
    assert not backend.output_url_allowed(f"{backend.base_url}/v1/account")
