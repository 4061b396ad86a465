"""Results: percentiles, a printed table, `bench/results/<name>-<date>.json` and a PNG beside it."""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import os
import platform
import re
import subprocess
import time
from pathlib import Path

import psutil

from launcher.embedded import BASE_DIR

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of unsorted values; None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_summary(seconds: list[float]) -> dict:
    """p50/p95/p99/max in milliseconds, and the count."""
    def ms(value):
        return None if value is None else round(value * 1000, 1)
    return {"n": len(seconds), "p50_ms": ms(percentile(seconds, 50)),
            "p95_ms": ms(percentile(seconds, 95)), "p99_ms": ms(percentile(seconds, 99)),
            "max_ms": ms(max(seconds) if seconds else None)}


def thin(points: list, limit: int = 10000) -> list:
    """Every k-th point so that at most `limit` remain (keeps JSON files and plots small)."""
    if len(points) <= limit:
        return points
    step = math.ceil(len(points) / limit)
    return points[::step]


def fmt_ms(value) -> str:
    if value is None:
        return "n/a"
    return f"{value / 1000:.2f} s" if value >= 10000 else f"{value:.0f} ms"


def print_table(title: str, rows: list[tuple], headers: tuple | None = None) -> None:
    """A plain fixed-width table on stdout."""
    rows = [tuple("" if cell is None else str(cell) for cell in row) for row in rows]
    if headers:
        rows.insert(0, tuple(headers))
    if not rows:
        return
    widths = [max(len(row[i]) for row in rows if i < len(row)) for i in range(max(map(len, rows)))]
    print(f"\n{title}")
    print("-" * len(title))
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
        if headers and index == 0:
            print("  ".join("-" * w for w in widths))


def role_rows(processes: dict) -> list[tuple]:
    return [(role, info["processes"], f"{info['peak_rss_mb']:.0f}",
             f"{info['peak_process_rss_mb']:.0f}", f"{info['cpu_seconds']:.1f}",
             f"{info['mean_cpu_pct']:.0f}", f"{info['peak_cpu_pct']:.0f}")
            for role, info in sorted(processes.items())]


ROLE_HEADERS = ("role", "procs", "peak RSS MB (sum)", "peak RSS MB (1 proc)", "CPU s",
                "mean CPU %", "peak CPU %")


def git_commit() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=BASE_DIR,
                                capture_output=True, text=True, check=True).stdout.strip()
        # Results written earlier the same day are not a change to the code measured.
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--",
                                ".", ":(exclude)bench/results"],
                               cwd=BASE_DIR, capture_output=True, text=True).stdout.strip()
        return commit + ("-dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


# A fixed piece of pure-Python work (JSON, a regex, sorting: what a web process spends its CPU
# on), timed on one core. The same work on every machine, so results from different boxes, or
# from one box whose speed wanders, can be set side by side with it.
YARDSTICK_REPEATS = 7
_YARDSTICK_ROUNDS = 1000
_YARDSTICK_WORDS = re.compile(r"[a-z]+_(\d+)")


def _yardstick_once() -> float:
    document = {f"key_{i}": {"id": i, "name": f"value_{i}", "tags": [f"t{j}" for j in range(5)]}
                for i in range(40)}
    started = time.perf_counter()
    for _ in range(_YARDSTICK_ROUNDS):
        text = json.dumps(document, sort_keys=True)
        json.loads(text)
        sorted(_YARDSTICK_WORDS.findall(text), key=int)
    return (time.perf_counter() - started) * 1000


@functools.cache
def yardstick() -> dict:
    """The yardstick in ms: the fastest of a few repeats (the machine's speed) and their median
    (what other work on it took). Measured once per benchmark, before its app starts."""
    times = sorted(_yardstick_once() for _ in range(YARDSTICK_REPEATS))
    return {"yardstick_ms": round(times[0], 1),
            "yardstick_median_ms": round(times[len(times) // 2], 1)}


def machine() -> dict:
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model,
            # Other work on the machine competes with the app and the load generator.
            "load_average_1_5_15": [round(value, 1) for value in os.getloadavg()],
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(),
            "system": f"{platform.system()} {platform.release()}", **yardstick()}


def result_paths(name: str, results_dir: Path | None = None) -> tuple[Path, Path]:
    directory = results_dir or RESULTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{name}-{dt.date.today().isoformat()}"
    return directory / f"{stem}.json", directory / f"{stem}.png"


def write_results(name: str, data: dict, results_dir: Path | None = None) -> Path:
    json_path, _ = result_paths(name, results_dir)
    now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    document = {"benchmark": name, "date": now,
                "commit": git_commit(), "machine": machine(), **data}
    json_path.write_text(json.dumps(document, indent=1, default=str) + "\n")
    return json_path


def new_figure(rows: int, title: str):
    """A matplotlib figure (Agg: no display needed) with `rows` stacked axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(rows, 1, figsize=(11, 3.2 * rows), squeeze=False)
    figure.suptitle(title)
    return figure, [row[0] for row in axes]


def save_figure(figure, name: str, results_dir: Path | None = None) -> Path:
    import matplotlib.pyplot as plt

    _, png_path = result_paths(name, results_dir)
    figure.tight_layout()
    figure.savefig(png_path, dpi=90)
    plt.close(figure)
    return png_path


def plot_rss(axis, series: dict, *, offset: float = 0.0, title: str = "RSS per role") -> None:
    t = [value - offset for value in series["t"]]
    for role, values in sorted(series["rss_mb"].items()):
        if max(values, default=0) >= 1:
            axis.plot(t, values, label=role)
    axis.set_title(title)
    axis.set_xlabel("s")
    axis.set_ylabel("MB")
    axis.legend(loc="upper left", fontsize="small", ncol=4)
    axis.grid(alpha=0.3)


def plot_cpu(axis, series: dict, *, offset: float = 0.0) -> None:
    t = [value - offset for value in series["t"]]
    for role, values in sorted(series["cpu_pct"].items()):
        if max(values, default=0) >= 1:
            axis.plot(t, values, label=role)
    axis.axhline(100, color="grey", linestyle=":", linewidth=1)
    axis.set_title("CPU per role (100 % = one core)")
    axis.set_xlabel("s")
    axis.set_ylabel("%")
    axis.legend(loc="upper left", fontsize="small", ncol=4)
    axis.grid(alpha=0.3)
