"""The app under test: started by the benchmark as one child process tree, and stopped with it.

`--target run` starts `python -m launcher.run` (what `make run` runs) on a free block of ports
with a state directory of its own. `--target stack` starts `python -m bench.stack --port P`, the
production-topology launcher: it prints "Surge stack is running at http://127.0.0.1:P/" when it
is ready, stops on SIGTERM, and writes `$SURGE_VAR_DIR/stack.env` (KEY=VALUE lines: the app's
DATABASE_URL, REDIS_URL, S3 settings …).

Only processes reached through the Popen handle are ever signalled: the launcher and its
psutil descendants (remembered as they are seen, so an orphan that loses its parent is still
ours). Never by name.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil

from launcher.embedded import (
    BASE_DIR,
    DEV_PROVIDER_WEBHOOK_SECRET,
    DEV_S3_ACCESS_KEY,
    DEV_S3_SECRET_KEY,
    PortLayout,
    free_port_block,
)

TARGETS = ("run", "stack")
READY_TIMEOUT = 240.0
START_ATTEMPTS = 2
STOP_GRACE = 25.0  # launcher.run gives its children 12 s between SIGTERM and SIGKILL
STACK_READY_LINE = "Surge stack is running at "
# Configuration a developer's shell (or the test session) may carry; a target starts without
# it, the way `make run` does on a fresh machine. Benchmarks pass what they need explicitly.
APP_VARIABLES = (
    "SURGE_ENV", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "PUBLIC_BASE_URL", "CSRF_TRUSTED_ORIGINS",
    "PORT", "BIND", "DATABASE_URL", "CONN_MAX_AGE", "REDIS_URL", "SURGE_REDIS_PREFIX",
    "S3_ENDPOINT_URL", "S3_BUCKET", "S3_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "PROVIDERS_JSON", "LOCAL_PROVIDER", "MAX_ACTIVE_JOBS_PER_USER", "TASKS_RUN_INLINE", "DEMO",
    "SURGE_VAR_DIR", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE", "PYTEST_CURRENT_TEST",
    "PYTEST_ADDOPTS",
)


def clean_environment() -> dict[str, str]:
    return {key: value for key, value in os.environ.items()
            if key not in APP_VARIABLES and not key.startswith("LOCAL_PROVIDER_")}


class TargetError(RuntimeError):
    pass


class TargetExited(TargetError):
    """The launcher exited before the app was ready."""


class Target:
    """One running Surge. `url` is its web server; `app_env` the environment its processes share."""

    def __init__(self, kind: str = "run", *, env: dict[str, str] | None = None,
                 provider_knobs: dict[str, object] | None = None, label: str = "bench"):
        if kind not in TARGETS:
            raise ValueError(f"target must be one of {TARGETS}, not {kind!r}")
        self.kind = kind
        self.extra_env = dict(env or {})
        self.provider_knobs = dict(provider_knobs or {})
        self.var_dir = Path(tempfile.mkdtemp(prefix=f"surge-{label}-"))
        self.log_path = self.var_dir / "target.log"
        self.port = 0
        self.url = ""
        self.app_env: dict[str, str] = {}
        self.process: subprocess.Popen | None = None
        self._known: dict[tuple[int, float], psutil.Process] = {}
        self._known_lock = threading.Lock()
        self._ready_line = threading.Event()
        self.started_in = 0.0

    # --- start -------------------------------------------------------------------------------
    def start(self) -> Target:
        """Start and wait until ready. A launcher that dies early is retried once on a new port
        block: on a shared machine another program may take one of the ports in between."""
        started = time.monotonic()
        for attempt in range(1, START_ATTEMPTS + 1):
            try:
                self._start_once()
                break
            except TargetExited:
                self.stop()
                if attempt == START_ATTEMPTS:
                    raise
                print(f"{self.kind} target exited while starting; trying again on new ports",
                      flush=True)
                with open(self.log_path, "ab") as log:
                    log.write(b"\n--- retry on a new port block ---\n")
            except BaseException:
                self.stop()
                raise
        self.remember_descendants()
        self.started_in = time.monotonic() - started
        return self

    def _start_once(self) -> None:
        self.port = free_port_block(8)
        self.url = f"http://127.0.0.1:{self.port}"
        self._ready_line.clear()
        shutil.rmtree(self.var_dir / "s3", ignore_errors=True)
        env = clean_environment()
        env.update(PYTHONUNBUFFERED="1", SURGE_VAR_DIR=str(self.var_dir), PORT=str(self.port))
        env["LOCAL_PROVIDER_MODE"] = "fast"  # a cached clip: the CPU is for the app, not video
        for name, value in self.provider_knobs.items():
            env[f"LOCAL_PROVIDER_{name.upper()}"] = str(value)
        env.update(self.extra_env)
        if self.kind == "run":
            argv = [sys.executable, "-m", "launcher.run"]
        else:
            argv = [sys.executable, "-m", "bench.stack", "--port", str(self.port)]
        # A session of its own: Ctrl-C in the terminal reaches the benchmark, which then stops
        # the app in order, instead of every process at once.
        self.process = subprocess.Popen(argv, cwd=BASE_DIR, env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                        start_new_session=True)
        threading.Thread(target=self._copy_output, args=(self.process,), daemon=True).start()
        if self.kind == "stack":
            self._wait(self._ready_line.is_set, "the stack's ready line")
        self._wait(self._ready, "GET /readyz = 200")
        self.app_env = self._derive_app_env(env)

    def _copy_output(self, process: subprocess.Popen) -> None:
        with open(self.log_path, "ab") as log:
            for line in process.stdout:
                log.write(line)
                log.flush()
                if STACK_READY_LINE.encode() in line:
                    self._ready_line.set()

    def _wait(self, condition, what: str) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while not condition():
            if self.process.poll() is not None:
                raise TargetExited(f"{self.kind} target exited (rc={self.process.returncode}) "
                                  f"before {what}:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise TargetError(f"{self.kind} target: no {what} after {READY_TIMEOUT:.0f}s:\n"
                                  f"{self.log_tail()}")
            self.remember_descendants()
            time.sleep(0.2)

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _derive_app_env(self, launched: dict[str, str]) -> dict[str, str]:
        """The environment the app's processes run with, for seeding and reading its database."""
        ports = PortLayout(web=self.port)
        app = {
            "PORT": str(self.port), "SURGE_VAR_DIR": str(self.var_dir),
            "DJANGO_SETTINGS_MODULE": "project.settings", "LOG_LEVEL": "WARNING",
            "DATABASE_URL": f"sqlite:///{self.var_dir / 'surge.sqlite3'}",
            "REDIS_URL": f"redis://127.0.0.1:{ports.redis}/0",
            "S3_ENDPOINT_URL": f"http://127.0.0.1:{ports.s3}",
            "AWS_ACCESS_KEY_ID": DEV_S3_ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": DEV_S3_SECRET_KEY,
            "LOCAL_PROVIDER_URL": f"http://127.0.0.1:{ports.local_provider}",
            "LOCAL_PROVIDER_WEBHOOK_SECRET": DEV_PROVIDER_WEBHOOK_SECRET,
        }
        app.update({key: value for key, value in launched.items()
                    if key in APP_VARIABLES or key.startswith("LOCAL_PROVIDER_")})
        if self.kind == "stack":
            stack_env = self.var_dir / "stack.env"
            if not stack_env.exists():
                raise TargetError(f"the stack did not write {stack_env}")
            app.update(parse_env_file(stack_env.read_text()))
        return app

    # --- the app's parts -----------------------------------------------------------------------
    @property
    def provider_url(self) -> str:
        return self.app_env.get("LOCAL_PROVIDER_URL", f"http://127.0.0.1:{self.port + 3}")

    @property
    def webhook_secret(self) -> str:
        return self.app_env.get("LOCAL_PROVIDER_WEBHOOK_SECRET", DEV_PROVIDER_WEBHOOK_SECRET)

    def provider_control(self, **knobs) -> dict:
        """POST /_control on the local provider (knobs and actions); returns its state."""
        request = urllib.request.Request(f"{self.provider_url}/_control", method="POST",
                                         data=json.dumps(knobs).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def provider_state(self) -> dict:
        with urllib.request.urlopen(f"{self.provider_url}/_control", timeout=10) as response:
            return json.load(response)

    def child_environment(self) -> dict[str, str]:
        """An environment for a helper process (seeding) that talks to the same app."""
        return {**clean_environment(), **self.app_env, "PYTHONUNBUFFERED": "1"}

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    # --- process tree --------------------------------------------------------------------------
    def root(self) -> psutil.Process | None:
        if self.process is None or self.process.poll() is not None:
            return None
        try:
            return psutil.Process(self.process.pid)
        except psutil.NoSuchProcess:
            return None

    def remember_descendants(self) -> list[psutil.Process]:
        """The launcher and every descendant seen so far that is still running (ours only)."""
        with self._known_lock:
            root = self.root()
            if root is not None:
                try:
                    found = [root, *root.children(recursive=True)]
                except psutil.NoSuchProcess:
                    found = [root]
                for process in found:
                    try:
                        self._known.setdefault((process.pid, process.create_time()), process)
                    except psutil.NoSuchProcess:
                        pass
            alive = []
            for key, process in list(self._known.items()):
                if process.is_running():  # psutil compares create times: no PID reuse
                    alive.append(process)
                else:
                    del self._known[key]
            return alive

    def stop(self) -> None:
        """SIGTERM the launcher (it stops its children in order), then SIGKILL what is left."""
        if self.process is None:
            return
        processes = self.remember_descendants()
        if self.process.poll() is None:
            try:
                self.process.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.process.wait(timeout=STOP_GRACE)
            except subprocess.TimeoutExpired:
                pass
        leftovers = [process for process in processes if process.is_running()]
        for process in leftovers:
            try:
                process.kill()
            except psutil.NoSuchProcess:
                pass
        psutil.wait_procs(leftovers, timeout=5)
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def cleanup(self, *, keep: bool = False) -> None:
        """Remove the state directory (database, S3 data, the app's log) unless kept."""
        if keep or os.environ.get("BENCH_KEEP_STATE") == "1":
            print(f"state and the app's log kept in {self.var_dir}", flush=True)
            return
        shutil.rmtree(self.var_dir, ignore_errors=True)


def parse_env_file(text: str) -> dict[str, str]:
    """KEY=VALUE lines; blank lines, comments and `export ` prefixes tolerated, quotes removed."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values
