"""Memory and CPU of the app under test, per role, sampled every 0.5 s with psutil.

Processes are the target's launcher and its descendants (found through the Popen handle only).
A process's role comes from its command line; one that names none (a multiprocessing child, a
shell wrapper) takes its parent's.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

import psutil

# First match wins: `launcher.serve web` execs `launcher.web` (uvicorn); the worker is qcluster.
ROLE_PATTERNS = (
    ("web", ("launcher.serve web", "launcher.web", "uvicorn", "daphne", "gunicorn", "granian",
             "hypercorn")),
    ("worker", ("qcluster", "launcher.serve worker")),
    ("dispatcher", ("dispatcher",)),
    ("copier", ("manage.py copier", "launcher.serve copier")),
    ("provider", ("local_provider",)),
    ("redis", ("redis-server",)),
    ("s3", ("weed",)),
    ("nginx", ("nginx",)),
    ("postgres", ("postgres", "postmaster")),
    ("launcher", ("launcher.run", "bench.stack", "honcho")),
)
SAMPLE_SECONDS = 0.5


def role_of(cmdline: list[str]) -> str | None:
    text = " ".join(cmdline)
    for role, patterns in ROLE_PATTERNS:
        if any(pattern in text for pattern in patterns):
            return role
    return None


@dataclass
class Sample:
    t: float  # seconds since the sampler started
    rss: dict[str, int]  # role → bytes, summed over the role's processes
    max_rss: dict[str, int]  # role → bytes of its largest process
    cpu: dict[str, float]  # role → % of one core since the previous sample
    processes: dict[str, int]
    machine_cpu: float = 0.0  # % of all cores, whole machine, since the previous sample


@dataclass
class _Seen:
    process: psutil.Process
    role: str
    first_cpu: float
    last_cpu: float
    read_at: float


@dataclass
class ProcessSampler:
    """A thread that samples the target's processes until stopped; marks a measured window."""

    target: object  # bench.target.Target (remember_descendants)
    interval: float = SAMPLE_SECONDS
    samples: list[Sample] = field(default_factory=list)

    def __post_init__(self):
        self._seen: dict[tuple[int, float], _Seen] = {}
        self._roles: dict[int, str] = {}  # pid → role named by its own command line, or ""
        self._me = psutil.Process()
        self._roles[self._me.pid] = "client"
        psutil.cpu_percent(interval=None)  # starts the machine-wide CPU counter
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="process-sampler")
        self._started = time.monotonic()
        self._window: tuple[float, float | None] | None = None
        self._window_cpu: dict[tuple[int, float], float] = {}
        self._window_end_cpu: dict[tuple[int, float], float] | None = None
        self._lock = threading.Lock()

    def start(self) -> ProcessSampler:
        self._started = time.monotonic()
        self.sample()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def now(self) -> float:
        return time.monotonic() - self._started

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.sample()
            except Exception:  # never let a vanished process end the sampling
                pass

    def sample(self) -> Sample:
        with self._lock:
            return self._sample()

    def _sample(self) -> Sample:
        t = self.now()
        found = []
        # The load generator shares the machine's cores: sampled too, as role "client".
        for process in [self._me, *self.target.remember_descendants()]:
            try:
                with process.oneshot():
                    key = (process.pid, process.create_time())
                    cmdline = process.cmdline() if key not in self._seen else None
                    parent = process.ppid()
                    memory = process.memory_info().rss
                    times = process.cpu_times()
                    read_at = time.monotonic()
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            found.append((key, process, cmdline, parent, memory, times.user + times.system,
                          read_at))
        for key, _process, cmdline, _parent, _memory, _cpu, _read_at in found:
            if key not in self._seen and cmdline is not None and key[0] != self._me.pid:
                self._roles[key[0]] = role_of(cmdline) or ""
        rss: dict[str, int] = {}
        max_rss: dict[str, int] = {}
        counts: dict[str, int] = {}
        cpu_pct: dict[str, float] = {}
        first_sample = not self.samples
        parents = {key[0]: parent for key, _p, _c, parent, _m, _u, _r in found}
        for key, process, _cmdline, _parent, memory, cpu, read_at in found:
            seen = self._seen.get(key)
            percent = 0.0
            if seen is None:
                role = self._resolve(key[0], parents)
                seen = self._seen[key] = _Seen(process, role, cpu, cpu, read_at)
            else:
                # Each process against its own previous reading: a sampler delayed by a busy
                # machine must not turn into more than 100 % per thread.
                elapsed = read_at - seen.read_at
                if elapsed > 0:
                    percent = 100.0 * (cpu - seen.last_cpu) / elapsed
                seen.last_cpu, seen.read_at = cpu, read_at
            role = seen.role
            rss[role] = rss.get(role, 0) + memory
            max_rss[role] = max(max_rss.get(role, 0), memory)
            counts[role] = counts.get(role, 0) + 1
            cpu_pct[role] = cpu_pct.get(role, 0.0) + (0.0 if first_sample else percent)
        sample = Sample(t=t, rss=rss, max_rss=max_rss, cpu=cpu_pct, processes=counts,
                        machine_cpu=psutil.cpu_percent(interval=None))
        self.samples.append(sample)
        return sample

    def _resolve(self, pid: int, parents: dict[int, int]) -> str:
        """The process's own role, else its nearest ancestor's (among the target's processes)."""
        for _ in range(16):
            role = self._roles.get(pid)
            if role:
                return role
            if pid not in parents:
                break
            pid = parents[pid]
        return "other"

    # --- the measured window ---------------------------------------------------------------
    def begin_window(self) -> None:
        with self._lock:
            self._sample()
            self._window = (self.now(), None)
            self._window_cpu = {key: seen.last_cpu for key, seen in self._seen.items()}

    def end_window(self) -> None:
        with self._lock:
            self._sample()
            if self._window is not None:
                self._window = (self._window[0], self.now())
                self._window_end_cpu = {key: seen.last_cpu for key, seen in self._seen.items()}

    def window(self) -> tuple[float, float]:
        if self._window is None:
            return (0.0, self.now())
        start, end = self._window
        return start, end if end is not None else self.now()

    def report(self) -> dict:
        """Per role: peak RSS (role sum, largest process), CPU seconds, peak CPU in the window."""
        start, end = self.window()
        inside = [s for s in self.samples if start <= s.t <= end] or self.samples
        end_cpu = self._window_end_cpu or {k: s.last_cpu for k, s in self._seen.items()}
        cpu_seconds: dict[str, float] = {}
        for key, last in end_cpu.items():
            seen = self._seen[key]
            # Started during the window: everything it used counts.
            first = self._window_cpu.get(key, 0.0 if self._window else seen.first_cpu)
            cpu_seconds[seen.role] = cpu_seconds.get(seen.role, 0.0) + max(0.0, last - first)
        roles = sorted({role for s in self.samples for role in s.rss} | set(cpu_seconds))
        seconds = max(end - start, 1e-9)
        report = {}
        for role in roles:
            report[role] = {
                "peak_rss_mb": round(
                    max((s.rss.get(role, 0) for s in inside), default=0) / 2**20, 1),
                "peak_process_rss_mb": round(
                    max((s.max_rss.get(role, 0) for s in inside), default=0) / 2**20, 1),
                "cpu_seconds": round(cpu_seconds.get(role, 0.0), 2),
                "mean_cpu_pct": round(100.0 * cpu_seconds.get(role, 0.0) / seconds, 1),
                "peak_cpu_pct": round(max((s.cpu.get(role, 0.0) for s in inside[1:]),
                                          default=0.0), 1),
                "processes": max((s.processes.get(role, 0) for s in inside), default=0),
            }
        return report

    def machine_report(self) -> dict:
        """The whole machine's CPU in the window (% of all cores): is the box itself saturated?"""
        start, end = self.window()
        inside = [s for s in self.samples if start <= s.t <= end][1:] or self.samples[1:]
        return {"cpus": psutil.cpu_count(),
                "mean_cpu_pct": round(sum(s.machine_cpu for s in inside) / max(1, len(inside)), 1),
                "peak_cpu_pct": round(max((s.machine_cpu for s in inside), default=0.0), 1)}

    def series(self) -> dict:
        """Time series for plots and the JSON: t, then RSS (MB) and CPU (%) per role."""
        roles = sorted({role for s in self.samples for role in s.rss})
        return {
            "t": [round(s.t, 2) for s in self.samples],
            "rss_mb": {role: [round(s.rss.get(role, 0) / 2**20, 1) for s in self.samples]
                       for role in roles},
            "cpu_pct": {role: [round(s.cpu.get(role, 0.0), 1) for s in self.samples]
                        for role in roles},
        }

    def cpu_between(self, start: float, end: float) -> dict:
        """Mean CPU between two of the sampler's times: see mean_cpu_between."""
        return mean_cpu_between(self.samples, start, end)

    def role_rss(self, roles: tuple[str, ...]) -> int:
        """Current RSS in bytes of the given roles (a fresh sample)."""
        sample = self.sample()
        return sum(sample.rss.get(role, 0) for role in roles)


def mean_cpu_between(samples: list[Sample], start: float, end: float) -> dict:
    """Mean CPU of the machine (% of all cores) and of each role (% of one core) from `start` to
    `end`, over the samples taken in between: does a phase run out of cores, or wait on
    something else? The first sample after `start` is left out, as most of the interval it
    covers lies before it."""
    inside = [s for s in samples if start < s.t <= end][1:]
    if not inside:
        return {"machine_pct": None, "roles_pct": {}}
    roles = sorted({role for s in inside for role in s.cpu})
    return {"machine_pct": round(sum(s.machine_cpu for s in inside) / len(inside), 1),
            "roles_pct": {role: round(sum(s.cpu.get(role, 0.0) for s in inside) / len(inside), 1)
                          for role in roles}}
