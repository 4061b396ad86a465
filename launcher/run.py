"""`make run`: migrate, then start and supervise every process of Surge with prefixed logs.

Processes (honcho, Procfile-style): embedded Redis and S3 (unless REDIS_URL / S3_ENDPOINT_URL
point elsewhere), the web server (uvicorn: HTTP + WebSocket), the task worker (qcluster) and the
local provider (unless PROVIDERS_JSON configures real providers). Ctrl-C or SIGTERM stops them
all; a process that dies stops the rest, loudly.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import threading

from honcho import manager as honcho_manager
from honcho.manager import Manager
from honcho.printer import Printer

from launcher.embedded import (
    BASE_DIR,
    DEFAULT_BUCKET,
    DEV_PROVIDER_API_KEY,
    DEV_PROVIDER_WEBHOOK_SECRET,
    DEV_S3_ACCESS_KEY,
    DEV_S3_SECRET_KEY,
    MALLOC_ARENA_MAX,
    first_taken_port,
    port_layout,
    redis_server_command,
    var_dir,
    wait_for_tcp,
    weed_command,
)

PYTHON = sys.executable
# Seconds between SIGTERM and SIGKILL: the worker finishes its running tasks within 8.
honcho_manager.KILL_WAIT = 12


def _command(argv: list[str]) -> str:
    return shlex.join(argv)


class ExitRecordingPrinter(Printer):
    """honcho's printer, noting each process's exit from the "<name> stopped (rc=N)" line that
    the manager prints for it, so the launcher can name the one that died first."""

    STOPPED = re.compile(r"^(?P<name>\S+) stopped \(rc=(?P<rc>-?\d+)\)$")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.exits: list[tuple[str, int]] = []

    def write(self, message):
        if message.name == honcho_manager.SYSTEM_PRINTER_NAME:
            stopped = self.STOPPED.match(str(message.data).strip())
            if stopped:
                self.exits.append((stopped["name"], int(stopped["rc"])))
        super().write(message)

    def first_exit(self) -> str | None:
        """The process that stopped first: the one that brought the others down."""
        return self.exits[0][0] if self.exits else None


def build_environment() -> tuple[dict[str, str], dict[str, bool]]:
    """The environment every child shares, and which embedded services to start."""
    ports = port_layout()
    env = dict(os.environ)
    env.setdefault("PORT", str(ports.web))
    env.setdefault("PYTHONUNBUFFERED", "1")
    # Served as users deploy it: DEBUG records every query (and on SQLite asks the database
    # again to quote each one). `DEBUG=1 make run` brings the error pages back.
    env.setdefault("DEBUG", "0")
    # Two web processes share the port: one alone saturates a core under a spike (BENCHMARKS.md).
    env.setdefault("WEB_PROCESSES", "2")
    env.setdefault("MALLOC_ARENA_MAX", MALLOC_ARENA_MAX)
    embedded = {
        "redis": not env.get("REDIS_URL"),
        "s3": not env.get("S3_ENDPOINT_URL"),
        "local_provider": not env.get("PROVIDERS_JSON") or env.get("LOCAL_PROVIDER") == "1",
    }
    env.setdefault("LOCAL_PROVIDER_API_KEY", DEV_PROVIDER_API_KEY)
    env.setdefault("LOCAL_PROVIDER_WEBHOOK_SECRET", DEV_PROVIDER_WEBHOOK_SECRET)
    if embedded["redis"]:
        env["REDIS_URL"] = f"redis://127.0.0.1:{ports.redis}/0"
    if embedded["s3"]:
        env["S3_ENDPOINT_URL"] = f"http://127.0.0.1:{ports.s3}"
        env.setdefault("AWS_ACCESS_KEY_ID", DEV_S3_ACCESS_KEY)
        env.setdefault("AWS_SECRET_ACCESS_KEY", DEV_S3_SECRET_KEY)
    return env, embedded


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([PYTHON, str(BASE_DIR / "manage.py"), *args], env=env, check=True,
                   cwd=BASE_DIR)


def add_processes(manager: Manager, env: dict[str, str], embedded: dict[str, bool]) -> None:
    ports = port_layout()
    data = var_dir()
    if embedded["redis"]:
        manager.add_process("redis", _command(redis_server_command(ports.redis)), env=env)
    if embedded["s3"]:
        bucket = env.get("S3_BUCKET", DEFAULT_BUCKET)
        manager.add_process("s3", _command(weed_command(
            s3_port=ports.s3, internal_ports=ports.s3_internal, data_dir=data / "s3",
            bucket=bucket)), env=env)
    bind = env.get("BIND", "127.0.0.1")
    manager.add_process("web", _command([PYTHON, "-m", "launcher.serve", "web", "--bind", bind]),
                        env=env, cwd=str(BASE_DIR))
    manager.add_process("worker", _command([PYTHON, "-m", "launcher.serve", "worker"]), env=env,
                        cwd=str(BASE_DIR))
    # Copies run in a process of their own: their CPU would delay the dispatcher (one GIL).
    manager.add_process("dispatcher", _command([PYTHON, "-m", "launcher.serve", "dispatcher",
                                                "--copy-threads", "0"]),
                        env=env, cwd=str(BASE_DIR))
    manager.add_process("copier", _command([PYTHON, "-m", "launcher.serve", "copier"]),
                        env=env, cwd=str(BASE_DIR))
    if embedded["local_provider"]:
        manager.add_process("provider", _command([
            PYTHON, "-m", "local_provider", "--port", str(ports.local_provider),
            "--state-dir", str(data / "local_provider")]), env=env, cwd=str(BASE_DIR))


def announce_when_ready(env: dict[str, str]) -> None:
    port = int(env["PORT"])
    try:
        wait_for_tcp(port, timeout=180)
    except TimeoutError:
        return
    url = env.get("PUBLIC_BASE_URL", f"http://127.0.0.1:{port}")
    banner = f"\n  Surge is running at {url}/   (Ctrl-C stops everything)\n"
    if env.get("DEMO") == "1":
        banner += "  Demo login: demo@surge.local / surge-demo-2026\n"
    sys.stdout.write(banner + "\n")
    sys.stdout.flush()


def ports_needed(env: dict[str, str], embedded: dict[str, bool]) -> list[tuple[int, str]]:
    """Every local port `make run` will listen on, with what needs it."""
    ports = port_layout()
    needed = [(int(env["PORT"]), "the web server (PORT)")]
    if embedded["redis"]:
        needed.append((ports.redis, "embedded Redis (PORT+1)"))
    if embedded["s3"]:
        needed.append((ports.s3, "embedded S3 (PORT+2)"))
        for offset, port in enumerate(ports.s3_internal, start=4):
            needed += [(port, f"SeaweedFS (PORT+{offset})"),
                       (port + 10000, f"SeaweedFS gRPC (PORT+{offset + 10000})")]
    if embedded["local_provider"]:
        needed.append((ports.local_provider, "the local provider (PORT+3)"))
    return needed


def refusal(env: dict[str, str], embedded: dict[str, bool]) -> str | None:
    """Why `make run` cannot start here (one line), or None."""
    highest = max(port for port, _ in ports_needed(env, embedded))
    if highest > 65535:
        return (f"PORT={env['PORT']} is too high: it needs port {highest} "
                f"(PORT+10007 for SeaweedFS); use a PORT up to {65535 - 10007}")
    taken = first_taken_port(ports_needed(env, embedded))
    if taken:
        return f"port {taken[0]} is already in use (needed by {taken[1]}); set another PORT"
    return None


def main() -> int:
    env, embedded = build_environment()
    problem = refusal(env, embedded)
    if problem:
        sys.stderr.write(f"Surge cannot start: {problem}\n")
        return 2
    os.environ.update(env)
    print(f"Surge: state in {var_dir()}, web port {env['PORT']}; embedded services: "
          + (", ".join(name for name, on in embedded.items() if on) or "none"), flush=True)
    manage(env, "migrate", "--noinput", "-v", "0")
    if env.get("DEMO") == "1":
        manage(env, "ensure_demo_user")
    printer = ExitRecordingPrinter(sys.stdout)
    manager = Manager(printer=printer)
    add_processes(manager, env, embedded)
    threading.Thread(target=announce_when_ready, args=(env,), daemon=True).start()
    manager.loop()
    if manager.returncode not in (0, 130, 143):
        sys.stderr.write(
            f"\n!!! Surge stopped: process {printer.first_exit() or '?'}"
            + f" exited unexpectedly (rc={manager.returncode}). See its log lines above.\n")
    return manager.returncode or 0


if __name__ == "__main__":
    sys.exit(main())
