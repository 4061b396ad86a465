"""Outbound URL checks: public https only, and requests pinned to the checked address."""

from __future__ import annotations

import ipaddress

import pytest

from common.outbound import UnresolvableURL, UnsafeURL, check_public_url, is_public


@pytest.mark.parametrize(("address", "public"), [
    ("93.184.215.14", True), ("2606:4700::1111", True),
    ("127.0.0.1", False), ("10.0.0.1", False), ("172.16.0.1", False), ("192.168.1.1", False),
    ("169.254.169.254", False), ("100.64.0.1", False), ("0.0.0.0", False), ("224.0.0.1", False),
    ("::1", False), ("fe80::1", False), ("fc00::1", False),
    ("::ffff:127.0.0.1", False),  # IPv4-mapped
    ("2002:7f00:1::", False),     # 6to4 around 127.0.0.1
    ("64:ff9b::7f00:1", False),   # NAT64 around 127.0.0.1
    ("64:ff9b::5db8:d70e", True),  # NAT64 around a public address
])
def test_public_addresses(address, public):
    assert is_public(ipaddress.ip_address(address)) is public


def test_every_address_of_a_name_must_be_public(fake_dns):
    """One private address among public ones is enough to refuse."""
    fake_dns.answer("push.example.net", ["93.184.215.14", "127.0.0.1"])
    with pytest.raises(UnsafeURL, match="non-public"):
        check_public_url("https://push.example.net/x")


def test_the_request_goes_to_the_checked_address_under_the_original_name(fake_dns):
    fake_dns.answer("push.example.net", ["2606:4700::1111", "93.184.215.14"])
    checked = check_public_url("https://push.example.net:8443/x/y?z=1")
    options = checked.request_options()
    assert str(options["url"]) == "https://[2606:4700::1111]:8443/x/y?z=1"
    assert options["headers"] == {"Host": "push.example.net:8443"}
    assert options["extensions"] == {"sni_hostname": "push.example.net"}
    assert options["follow_redirects"] is False


def test_trusted_hosts_may_be_private_and_plain_http(fake_dns):
    fake_dns.answer("provider.local", "127.0.0.1")
    checked = check_public_url("http://provider.local:8003/out.mp4",
                               trusted_hosts=["provider.local:8003"])
    assert checked.address == "127.0.0.1"
    with pytest.raises(UnsafeURL):
        check_public_url("http://provider.local:8004/out.mp4",
                         trusted_hosts=["provider.local:8003"])


def test_a_name_that_does_not_resolve_is_told_apart():
    with pytest.raises(UnresolvableURL):
        check_public_url("https://nowhere.invalid/x")
