"""A small process supervisor for `make stack`: prefixed logs, an ordered stop, nothing left over.

honcho (which `make run` uses) signals every process group at once with SIGTERM. The stack needs
more: an order (nginx first, the services the app uses last), a stop signal per process
(PostgreSQL's fast shutdown is SIGINT) and a process running as another OS user (PostgreSQL
refuses to run as root).
"""

from __future__ import annotations

import ctypes
import os
import pwd
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

STOP_SECONDS = 20  # the task worker finishes its running tasks within 8
PR_SET_CHILD_SUBREAPER = 36


class StopRequested(BaseException):
    """SIGTERM, SIGINT or SIGHUP arrived: stop everything (a BaseException, like Ctrl-C)."""


class ChildExited(Exception):
    def __init__(self, child: Child):
        self.child = child
        code = child.process.returncode
        how = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with {code}"
        super().__init__(f"{child.name} {how}")


@dataclass
class Child:
    """One supervised process. Higher stages stop first; each stage stops before the next."""

    name: str
    argv: list[str]
    stage: int
    env: dict[str, str] | None = None
    cwd: Path | None = None
    stop_signal: signal.Signals = signal.SIGTERM
    user: str | None = None
    process: subprocess.Popen | None = field(default=None, repr=False)


class Supervisor:
    def __init__(self) -> None:
        self.children: list[Child] = []
        self._width = len("stack")
        self._print_lock = threading.RLock()  # the signal handler prints too
        self._stopping = False

    def install_signal_handlers(self) -> None:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_signal)
        # Orphans (a task worker's processes after its wrapper died) become our children, so
        # stop() can find them by parentage.
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1)
        except (OSError, AttributeError):
            pass

    def _on_signal(self, signum, _frame) -> None:
        if self._stopping:
            return
        self._stopping = True
        self.say(f"{signal.Signals(signum).name} received: stopping everything")
        raise StopRequested

    def say(self, text: str, name: str = "stack") -> None:
        stamp = datetime.now().strftime("%H:%M:%S")
        with self._print_lock:
            sys.stdout.write(f"{stamp} {name:<{self._width}} | {text}\n")
            sys.stdout.flush()

    def banner(self, text: str) -> None:
        with self._print_lock:
            sys.stdout.write(f"\n  {text}\n\n")
            sys.stdout.flush()

    def align(self, names: list[str]) -> None:
        """Make room for these names in the log prefix, before any of them speaks."""
        self._width = max(self._width, *map(len, names))

    def start(self, child: Child) -> None:
        options = {}
        if child.user:
            options = {"user": child.user, "group": pwd.getpwnam(child.user).pw_gid,
                       "extra_groups": []}
        self._width = max(self._width, len(child.name))
        # A session of its own: Ctrl-C in the terminal reaches the launcher only, which stops
        # the children in order; and stop() can reap what a child leaves in its group.
        child.process = subprocess.Popen(
            child.argv, env=child.env, cwd=child.cwd, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, **options)
        self.children.append(child)
        threading.Thread(target=self._pump, args=(child,), daemon=True).start()
        self.say(f"{child.name} started (pid {child.process.pid})")

    def _pump(self, child: Child) -> None:
        for line in iter(child.process.stdout.readline, b""):
            self.say(line.decode(errors="replace").rstrip(), child.name)
        child.process.stdout.close()

    def check(self) -> None:
        """Raise ChildExited for a child that has exited: every child is meant to run forever."""
        for child in self.children:
            if child.process.poll() is not None:
                raise ChildExited(child)

    def wait_until(self, ready: Callable[[], bool], *, what: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            self.check()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what} not ready after {timeout:.0f}s")
            time.sleep(0.2)

    def watch(self) -> None:
        while True:
            self.check()
            time.sleep(0.2)

    def stop(self) -> None:
        """Stop stage by stage (highest first), then reap anything left behind."""
        self._stopping = True
        if not self.children:
            return
        for stage in sorted({child.stage for child in self.children}, reverse=True):
            group = [child for child in self.children if child.stage == stage]
            signalled = []
            for child in group:
                if child.process.poll() is None:
                    self.say(f"stopping {child.name} ({child.stop_signal.name})")
                    child.process.send_signal(child.stop_signal)
                    signalled.append(child)
            started = time.monotonic()
            for child in signalled:
                try:
                    code = child.process.wait(
                        timeout=max(0.1, started + STOP_SECONDS - time.monotonic()))
                    self.say(f"{child.name} stopped (rc={code}) after "
                             f"{time.monotonic() - started:.1f}s")
                except subprocess.TimeoutExpired:
                    self.say(f"{child.name} did not stop within {STOP_SECONDS}s: killing it")
            for child in group:
                # Whatever it left in its process group (render pools, database backends).
                _kill_group(child.process.pid)
                child.process.wait()
        self._reap_descendants()
        self.say("stopped")

    def _reap_descendants(self) -> None:
        deadline = time.monotonic() + 5
        while (left := _descendants(os.getpid())) and time.monotonic() < deadline:
            for pid in left:
                self.say(f"killing leftover process {pid}")
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.05)
            _reap_exited_children()
        _reap_exited_children()


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _reap_exited_children() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _descendants(root: int) -> list[int]:
    """Processes below `root`, found by parentage in /proc (never by name)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] == "Z":
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        for pid in children.get(todo.pop(), []):
            found.append(pid)
            todo.append(pid)
    return found
