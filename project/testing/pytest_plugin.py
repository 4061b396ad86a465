"""Pytest plugin: real Redis and S3 for the test session, and no outbound internet.

Loaded with `-p project.testing.pytest_plugin` (see pytest.ini) so it runs before pytest-django
imports the settings: the settings then read the URLs of the servers started here. REDIS_URL,
DATABASE_URL and S3_ENDPOINT_URL from the environment are used as they are when set.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import uuid
from pathlib import Path

import pytest

from project.embedded import free_port, free_port_block
from project.testing.services import EmbeddedServices

_services: EmbeddedServices | None = None


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    global _services
    data_dir = Path(tempfile.mkdtemp(prefix="surge-test-"))
    os.environ.setdefault("SURGE_VAR_DIR", str(data_dir / "var"))
    # A unique prefix keeps this run's keys apart from anything else in a shared Redis.
    os.environ["SURGE_REDIS_PREFIX"] = f"surgetest-{uuid.uuid4().hex[:8]}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    _services = EmbeddedServices(data_dir=data_dir)
    try:
        if not os.environ.get("REDIS_URL"):
            os.environ["REDIS_URL"] = _services.start_redis(free_port())
        if not os.environ.get("S3_ENDPOINT_URL"):
            base = free_port_block(4)
            os.environ["S3_ENDPOINT_URL"] = _services.start_s3(
                s3_port=free_port(), internal_ports=(base, base + 1, base + 2, base + 3))
    except BaseException:
        _services.stop()
        raise
    os.environ.setdefault("PORT", str(free_port()))
    early_config.add_cleanup(_stop_services)
    early_config.add_cleanup(lambda: shutil.rmtree(data_dir, ignore_errors=True))
    return (yield)


def _stop_services() -> None:
    if _services is not None:
        _services.stop()


class OutboundInternetBlocked(RuntimeError):
    pass


_real_connect = socket.socket.connect


def _loopback_only_connect(self, address):
    """Like Zulip's block_internet(): tests may only talk to this machine."""
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and self.family in (socket.AF_INET, socket.AF_INET6):
        if not (host.startswith("127.") or host in ("::1", "localhost")
                or host.startswith("::ffff:127.")):
            raise OutboundInternetBlocked(f"tests may not connect to {address!r}")
    return _real_connect(self, address)


def pytest_configure(config):
    socket.socket.connect = _loopback_only_connect
