"""The app as `make run` starts it, for browser tests: the web server, and for end-to-end runs the
task worker, the dispatcher and the local provider, all on the test session's Redis, S3 and
(file) database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from django.db import connection

from launcher.embedded import BASE_DIR, free_port, wait_for_tcp
from project.testing.local_provider import LocalProviderProcess
from project.testing.processes import stop_tree


def test_database_url() -> str:
    """The test database (not the development one) as a DATABASE_URL for child processes."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{db['NAME']}"
    return (f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:"
            f"{db['PORT'] or 5432}/{db['NAME']}")


class LiveApp:
    """Child processes of one running Surge; `url` is the web server's base URL."""

    def __init__(self, *, full: bool = False, time_scale: float = 0.1,
                 extra_env: dict[str, str] | None = None, max_concurrency: int = 5):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.logs = Path(tempfile.mkdtemp(prefix="surge-live-app-"))
        self.processes: dict[str, subprocess.Popen] = {}
        self.provider = LocalProviderProcess(time_scale=time_scale) if full else None
        env = {key: value for key, value in os.environ.items()
               if key not in ("DJANGO_ALLOW_ASYNC_UNSAFE", "PYTEST_CURRENT_TEST")}
        env.update(DATABASE_URL=test_database_url(), PORT=str(self.port),
                   PUBLIC_BASE_URL=self.url, PYTHONUNBUFFERED="1", LOG_LEVEL="INFO",
                   TASKS_RUN_INLINE="0" if full else "1", CONN_MAX_AGE="0")
        if self.provider:
            env["PROVIDERS_JSON"] = json.dumps([{"name": "local", "backend": "local",
                                                 **{k.lower(): v for k, v in
                                                    self.provider.provider_config(
                                                        max_concurrency=max_concurrency).items()
                                                    if k != "BACKEND"}}])
        env.update(extra_env or {})
        self.env = env
        try:
            self._start("web", self._web_argv())
            if full:
                self._start("worker", [sys.executable, "manage.py", "qcluster"])
                self._start("dispatcher", [sys.executable, "manage.py", "dispatcher"])
            self._wait_for_web()
        except BaseException:
            self.stop()  # no fixture will: the caller never got this object
            raise

    def _web_argv(self) -> list[str]:
        return [sys.executable, "-m", "launcher.web", "--bind", "127.0.0.1",
                "--port", str(self.port)]

    def _wait_for_web(self) -> None:
        try:
            wait_for_tcp(self.port, timeout=60)
        except TimeoutError:
            raise RuntimeError(f"web did not start:\n{self.log('web')}") from None

    def start_web(self) -> None:
        """(Re)start the web server on the same port, e.g. after a test killed it."""
        self._start("web", self._web_argv())
        self._wait_for_web()

    def _start(self, name: str, argv: list[str]) -> None:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115
        # A group of its own, so kill_group() takes qcluster's sentinel and workers along.
        self.processes[name] = subprocess.Popen(argv, cwd=BASE_DIR, env=self.env, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)

    def start_worker(self) -> None:
        """(Re)start the task worker, e.g. after a test killed it."""
        self._start("worker", [sys.executable, "manage.py", "qcluster"])

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-6000:]

    def kill_group(self, name: str) -> None:
        """SIGKILL a process and everything it started, as a crashed machine would."""
        try:
            os.killpg(self.processes[name].pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.processes[name].wait()

    def stop(self) -> None:
        # SIGTERM to each main process only (django-q2's qcluster hangs when its children get
        # the signal too), then every process below them, stragglers included.
        try:
            stop_tree(*self.processes.values())
        finally:
            if self.provider:
                self.provider.stop()
