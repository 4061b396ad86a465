"""Requests to URLs someone else handed us (provider outputs, Web Push endpoints): no SSRF.

Only https to public addresses, or a host:port configured as trusted. The name is resolved once,
every address it has must be public, and the request then connects to that checked address
(Host header, TLS SNI and certificate still name the host), so a DNS answer that changes between
the check and the connection (DNS rebinding) cannot point us at this machine or the LAN.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from django.core.exceptions import SuspiciousOperation

DEFAULT_PORTS = {"http": 80, "https": 443}
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class UnsafeURL(SuspiciousOperation):
    """The URL is not one we may send a request to."""


class UnresolvableURL(UnsafeURL):
    """The URL's host does not resolve (perhaps only for now)."""


@dataclass(frozen=True)
class CheckedURL:
    """A URL that passed the check, and the address its request must connect to."""

    url: str
    hostname: str
    address: str

    def request_options(self) -> dict:
        """Keyword arguments for httpx's `request()`: the checked address, the original name."""
        parts = httpx.URL(self.url)
        return {"url": parts.copy_with(host=self.address),
                "headers": {"Host": parts.netloc.decode("ascii")},
                "extensions": {"sni_hostname": self.hostname},
                "follow_redirects": False}


def _resolve(hostname: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        infos = socket.getaddrinfo(hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise UnresolvableURL(f"cannot resolve {hostname}: {error}") from error
    # getaddrinfo's order is the order a client would try; keep it, drop duplicates.
    addresses = dict.fromkeys(ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos)
    if not addresses:
        raise UnresolvableURL(f"{hostname} has no address")
    return list(addresses)


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A global unicast address; an IPv6 one that embeds IPv4 (mapped, 6to4, Teredo, NAT64)
    only when the embedded address is public too."""
    if not address.is_global or address.is_multicast:
        return False
    if address.version == 6:
        embedded = address.ipv4_mapped or address.sixtofour or (
            address.teredo[1] if address.teredo else None)
        if embedded is None and address in NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
    return True


def check_public_url(url: str, *, trusted_hosts: Iterable[str] = ()) -> CheckedURL:
    """Refuse anything but https to public addresses, or http(s) to a trusted `host:port`.

    Raises UnsafeURL (UnresolvableURL when the name does not resolve).
    """
    parts = urlsplit(url)
    try:
        port = parts.port or DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        raise UnsafeURL(f"refusing URL with an invalid port {url!r}") from None
    if not parts.hostname or parts.scheme not in DEFAULT_PORTS or parts.username is not None:
        raise UnsafeURL(f"refusing URL {url!r}")
    trusted = parts.netloc.lower() in {host.lower() for host in trusted_hosts}
    if not trusted and parts.scheme != "https":
        raise UnsafeURL(f"refusing non-https URL {url!r}")
    addresses = _resolve(parts.hostname, port)
    if not trusted:
        for address in addresses:
            if not is_public(address):
                raise UnsafeURL(f"refusing URL on non-public address {address}")
    return CheckedURL(url=url, hostname=parts.hostname, address=str(addresses[0]))
