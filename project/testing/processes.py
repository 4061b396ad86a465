"""Stopping what a test started: a process and everything below it, found through its handle.

Tests never look processes up by name on the machine: other checkouts run the same commands.
"""

from __future__ import annotations

import subprocess
import time

import psutil

KILL_WAIT_SECONDS = 10


def descendants(process: subprocess.Popen | psutil.Process) -> list[psutil.Process]:
    """The live processes below `process` (none once it has exited: its orphans moved away)."""
    try:
        if isinstance(process, subprocess.Popen):
            if process.poll() is not None:
                return []
            process = psutil.Process(process.pid)
        return process.children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def stop_tree(*processes: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM each process, wait up to `timeout` for them, then SIGKILL what is left of the trees.

    Only the main processes get SIGTERM: they stop their own children (a supervisor does), and
    django-q2's qcluster hangs when its sentinel and workers are signalled along with it.
    Descendants are listed before anything is signalled, because once a parent dies its
    children are re-parented and can no longer be found from its handle.
    """
    tree = [child for process in processes for child in descendants(process)]
    for process in processes:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
    # Whatever the tree started while it was stopping (a replacement worker) goes too.
    for member in [*processes, *tree]:
        tree += [child for child in descendants(member) if child not in tree]
    for process in processes:
        if process.poll() is None:
            process.kill()
    for child in tree:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    for process in processes:
        process.wait(timeout=KILL_WAIT_SECONDS)
    survivors = still_running(tree, timeout=KILL_WAIT_SECONDS)
    if survivors:
        raise RuntimeError(f"processes survived SIGKILL: {survivors}")


def still_running(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Those of `processes` still running after up to `timeout` seconds (zombies have ended)."""
    deadline = time.monotonic() + timeout
    alive = list(processes)
    while True:
        _, alive = psutil.wait_procs(alive, timeout=0.1)  # also reaps our own children
        alive = [process for process in alive if not _is_zombie(process)]
        if not alive or time.monotonic() > deadline:
            return alive


def _is_zombie(process: psutil.Process) -> bool:
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
