"""client_ip: the caller's address, read from X-Forwarded-For only behind trusted proxies."""

import pytest
from django.test import RequestFactory

from accounts.services import client_ip


def request(forwarded: str | None = None, remote: str = "203.0.113.9"):
    headers = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        headers["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **headers)


def test_without_trusted_proxies_the_header_is_ignored(settings):
    """A client cannot pick its own address (and so its throttle bucket) with a header."""
    settings.TRUSTED_PROXY_COUNT = 0
    assert client_ip(request("198.51.100.1")) == "203.0.113.9"


@pytest.mark.parametrize("proxies, expected", [(1, "192.0.2.7"), (2, "198.51.100.1")])
def test_the_address_each_trusted_proxy_saw(settings, proxies, expected):
    """With N proxies, the Nth address from the right is the one the outermost proxy saw."""
    settings.TRUSTED_PROXY_COUNT = proxies
    assert client_ip(request("10.0.0.1, 198.51.100.1, 192.0.2.7")) == expected


def test_fewer_hops_than_proxies_falls_back_to_the_peer(settings):
    settings.TRUSTED_PROXY_COUNT = 3
    assert client_ip(request("198.51.100.1")) == "203.0.113.9"
