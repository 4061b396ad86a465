"""Runs the real local provider (`python -m local_provider`) as a subprocess for tests."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from launcher.embedded import (
    BASE_DIR,
    DEV_PROVIDER_API_KEY,
    DEV_PROVIDER_WEBHOOK_SECRET,
    free_port,
)
from project.testing.processes import stop_tree


class LocalProviderProcess:
    """One local provider on a free loopback port, with its knobs and counters at hand."""

    def __init__(self, *, time_scale: float = 0.02, seed: int = 1, extra_args=(),
                 api_key: str = DEV_PROVIDER_API_KEY,
                 webhook_secret: str = DEV_PROVIDER_WEBHOOK_SECRET):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.state_dir = Path(tempfile.mkdtemp(prefix="surge-local-provider-"))
        self.log = open(self.state_dir / "provider.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "local_provider", "--port", str(self.port),
             "--time-scale", str(time_scale), "--seed", str(seed), "--state-dir",
             str(self.state_dir), "--api-key", api_key, "--webhook-secret", webhook_secret,
             *extra_args],
            cwd=BASE_DIR, stdout=self.log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()  # no fixture will: the caller never got this object
            raise

    def _wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"local provider exited: {self.read_log()}")
            try:
                if httpx.get(f"{self.url}/_health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise TimeoutError("local provider did not become ready")

    def control(self, **knobs) -> dict:
        response = httpx.post(f"{self.url}/_control", json=knobs, timeout=5)
        response.raise_for_status()
        return response.json()

    def state(self) -> dict:
        """Everything GET /_control returns: knobs, counters, models, jobs."""
        response = httpx.get(f"{self.url}/_control", timeout=5)
        response.raise_for_status()
        return response.json()

    def wait_idle(self, timeout: float = 15) -> None:
        """Until nothing is in flight or queued (a test's leftovers must not meet the next)."""
        deadline = time.monotonic() + timeout
        while True:
            counters = self.counters()
            if counters["in_flight"] == 0 and counters["queued"] == 0:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"local provider still busy: {counters}")
            time.sleep(0.05)

    def counters(self) -> dict:
        response = httpx.get(f"{self.url}/_control", timeout=5)
        response.raise_for_status()
        return response.json()["counters"]

    def provider_config(self, *, dialect: str = "replicate", max_concurrency: int = 5,
                        priority: int = 10, webhooks: bool = True, read_timeout: float = 5.0
                        ) -> dict:
        """A settings.PROVIDERS entry that points at this process."""
        return {
            "BACKEND": "providers.backends.local.LocalBackend",
            "BASE_URL": self.url,
            "DIALECT": dialect,
            "API_KEY": DEV_PROVIDER_API_KEY,
            "WEBHOOK_SECRET": DEV_PROVIDER_WEBHOOK_SECRET,
            "MODEL": "surge/cyberpunk-hero",
            "MAX_CONCURRENCY": max_concurrency,
            "PRIORITY": priority,
            "WEBHOOKS": webhooks,
            "TIMEOUTS": {"connect": 1.0, "read": read_timeout, "write": 5.0, "pool": 5.0},
        }

    def read_log(self) -> str:
        self.log.flush()
        return (self.state_dir / "provider.log").read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        try:
            stop_tree(self.process)  # its render pool's processes too
        finally:
            self.log.close()
