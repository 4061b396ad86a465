"""Pytest plugin: real Redis and S3 for the tests, no outbound internet, no leaked processes.

Loaded with `-p project.testing.pytest_plugin` (see pytest.ini) so it runs before pytest-django
imports the settings: the settings then read the URLs of the servers started here. REDIS_URL,
DATABASE_URL and S3_ENDPOINT_URL from the environment are used as they are when set.

The run fails when a process the suite started is still running at its end: every fixture must
stop what it started, whole trees included.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import socket
import tempfile
import uuid
from pathlib import Path

import psutil
import pytest

from launcher.embedded import free_port, free_port_block
from project.testing.processes import descendants, still_running
from project.testing.services import EmbeddedServices

PR_SET_CHILD_SUBREAPER = 36
LEAK_GRACE_SECONDS = 10

_services: EmbeddedServices | None = None


@pytest.hookimpl(wrapper=True)
def pytest_load_initial_conftests(early_config, parser, args):
    global _services
    _adopt_orphans()
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


def _adopt_orphans() -> None:
    """Linux: become the parent of orphans of processes the suite started (a SIGKILLed
    supervisor's children), so they stay visible to the leak check instead of moving to init."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


@pytest.hookimpl(trylast=True)  # after pytest's own hook has torn down session fixtures
def pytest_sessionfinish(session):
    """Fail the run if a process the suite started outlived its test; then stop it."""
    # The session's own Redis and S3 are stopped later, at cleanup.
    services = _services.processes if _services else []
    own = {process.pid for process in services}
    own |= {child.pid for process in services for child in descendants(process)}
    started = [child for child in psutil.Process().children(recursive=True)
               if child.pid not in own]
    leaked = still_running(started, timeout=LEAK_GRACE_SECONDS)
    if not leaked:
        return
    writer = session.config.get_terminal_writer()
    writer.line(f"\nLEAKED PROCESSES: {len(leaked)} started by the tests outlived them "
                "(killed now; the run fails):", red=True)
    for process in leaked:
        try:
            writer.line(f"  {process.pid} {' '.join(process.cmdline())[:200]}", red=True)
        except psutil.Error:
            writer.line(f"  {process.pid} (gone)", red=True)
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    still_running(leaked, timeout=LEAK_GRACE_SECONDS)
    session.exitstatus = session.exitstatus or pytest.ExitCode.TESTS_FAILED


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


def pytest_collection_modifyitems(config, items):
    """Tests that drive Chromium (pytest-playwright's `page`) are marked `browser`, so a run
    may leave them out (`-m "not browser"`: CI's PostgreSQL pass, see .ci/run)."""
    for item in items:
        if "page" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
