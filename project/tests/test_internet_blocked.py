"""Tests may only talk to this machine."""

import socket

import pytest

from project.testing.pytest_plugin import OutboundInternetBlocked


def test_outbound_connections_are_refused():
    with pytest.raises(OutboundInternetBlocked):
        socket.create_connection(("93.184.215.14", 80), timeout=1)


def test_loopback_is_allowed():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    with socket.create_connection(server.getsockname(), timeout=1):
        pass
    server.close()
