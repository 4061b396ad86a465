"""Uploads: 8 concurrent worst-case selfies (39.7 MP in 165 KB); the web process's memory.

`python -m bench uploads [--concurrency C --rounds R --case png-rgba|jpeg-progressive|webp-16mp
--web-processes W --target run|stack]`

C clients each upload the same small-file, huge-pixel image R times, back to back (closed
loop), as separate users (so no per-user limit is hit; the target runs with the upload limits
raised). Meanwhile one client polls GET /healthz (one request at a time, every 0.2 s). Memory is
exact, not sampled: every web process's peak resident memory (Linux VmHWM, reset before the
uploads) minus its resident memory before them. Target: +600 MB at most per web process.
"""

from __future__ import annotations

import asyncio
import io
import sys
from collections import Counter
from pathlib import Path

import aiohttp
import psutil
from PIL import Image

from bench import load, report, runner
from bench.metrics import role_of

NAME = "uploads"
TARGETS = {"web_peak_delta_mb": 600, "non_201": 0}
HEALTH_INTERVAL = 0.2
CASES = ("png-rgba", "jpeg-progressive", "webp-16mp")
UNLIMITED = "1000000"


def build_parser():
    parser = runner.parser(__doc__.splitlines()[0], prog=f"python -m bench {NAME}")
    parser.add_argument("--concurrency", type=int, default=8, help="uploads in flight at once")
    parser.add_argument("--rounds", type=int, default=3, help="uploads per client, one by one")
    parser.add_argument("--case", choices=CASES, default="png-rgba",
                        help="png-rgba: 7700 × 5150 RGBA PNG (the report's 165 KB selfie); "
                             "jpeg-progressive: the same size as a progressive JPEG; "
                             "webp-16mp: 4096 × 4096, WebP's largest")
    parser.add_argument("--web-processes", type=int, default=1,
                        help="WEB_PROCESSES of the run target: 1 puts every upload on one "
                             "process, the worst case for its memory")
    parser.add_argument("--timeout", type=float, default=120.0, help="client timeout per upload")
    return parser


def worst_case_image(case: str) -> bytes:
    """The image every client uploads (made once, in this process)."""

    buffer = io.BytesIO()
    if case == "png-rgba":
        Image.new("RGBA", (7700, 5150), (10, 20, 30, 128)).save(buffer, "PNG")
    elif case == "jpeg-progressive":
        Image.new("RGB", (7700, 5150), (10, 20, 30)).save(buffer, "JPEG", quality=50,
                                                           progressive=True)
    else:
        Image.new("RGBA", (4096, 4096), (10, 20, 30, 128)).save(buffer, "WEBP", lossless=True)
    return buffer.getvalue()


def web_processes(target) -> list[psutil.Process]:
    """The target's web server processes: uvicorn, or its worker processes when it has some
    (a multiprocessing child names no role of its own: it takes its parent's)."""
    roles: dict[int, str | None] = {}
    processes = target.remember_descendants()
    for process in processes:
        try:
            roles[process.pid] = role_of(process.cmdline())
        except psutil.Error:
            roles[process.pid] = None
    web = []
    for process in processes:
        try:
            parent = process.ppid()
        except psutil.Error:
            continue
        if roles.get(process.pid) == "web" or (roles.get(process.pid) is None
                                                and roles.get(parent) == "web"):
            web.append(process)
    return web


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    raise KeyError(field)


def memory_before(processes: list[psutil.Process]) -> dict[int, int]:
    """Resident KB of each process now; its peak (VmHWM) is reset to that."""
    before = {}
    for process in processes:
        try:
            Path(f"/proc/{process.pid}/clear_refs").write_text("5")
            before[process.pid] = _status_kb(process.pid, "VmRSS:")
        except (OSError, KeyError):
            pass  # gone, or not ours to inspect
    return before


def memory_after(before: dict[int, int]) -> list[dict]:
    rows = []
    for pid, rss_kb in sorted(before.items()):
        try:
            peak_kb, now_kb = _status_kb(pid, "VmHWM:"), _status_kb(pid, "VmRSS:")
        except (OSError, KeyError):
            continue
        rows.append({"pid": pid, "rss_before_mb": round(rss_kb / 1024, 1),
                     "peak_mb": round(peak_kb / 1024, 1), "rss_after_mb": round(now_kb / 1024, 1),
                     "peak_delta_mb": round((peak_kb - rss_kb) / 1024, 1)})
    return rows


async def measure(target, sampler, args) -> dict:
    users = runner.seed_users(target, args.concurrency, prefix="uploads")
    image = worst_case_image(args.case)
    print(f"{NAME}: {args.case}, {len(image) / 1024:.0f} KB; {args.concurrency} clients × "
          f"{args.rounds} uploads", flush=True)
    loop = asyncio.get_running_loop()
    url = f"{target.url}/api/v1/selfies/"
    uploads: list[load.Outcome] = []
    health: list[load.Outcome] = []
    done = asyncio.Event()
    async with load.session(args.concurrency + 4, args.timeout) as http, \
            load.session(2, 30) as probe:
        # Warm up: imports, connection pools and the first decode happen before the baseline.
        for _ in range(2):
            await load.request(probe, "GET", f"{target.url}/healthz", due=loop.time(),
                               zero=loop.time())
        web = web_processes(target)
        before = memory_before(web)
        zero = loop.time()
        sampler_zero = sampler.now()
        sampler.begin_window()

        async def client(user: runner.BenchUser) -> None:
            for _ in range(args.rounds):
                form = aiohttp.FormData()
                form.add_field("image", image, filename="selfie.png",
                               content_type="application/octet-stream")
                uploads.append(await load.request(http, "POST", url, due=loop.time(),
                                                  zero=zero, data=form, headers=user.headers))

        async def watch_health() -> None:
            while not done.is_set():
                due = loop.time()
                health.append(await load.request(probe, "GET", f"{target.url}/healthz",
                                                 due=due, zero=zero))
                await asyncio.sleep(max(0.0, due + HEALTH_INTERVAL - loop.time()))

        watcher = asyncio.create_task(watch_health())
        await asyncio.gather(*(client(user) for user in users))
        done.set()
        await watcher
        elapsed = loop.time() - zero
        sampler.end_window()
        memory = memory_after(before)

    codes = Counter(o.code for o in uploads)
    peak_delta = max((row["peak_delta_mb"] for row in memory), default=None)
    result = {
        "params": {key: getattr(args, key) for key in ("target", "concurrency", "rounds", "case",
                                                       "web_processes", "timeout")},
        "image_bytes": len(image),
        "seconds": round(elapsed, 2),
        "uploads": {"requests": len(uploads), "codes": dict(sorted(codes.items())),
                    "latency": report.latency_summary([o.latency for o in uploads])},
        "healthz": {"codes": dict(Counter(o.code for o in health)),
                    "latency": report.latency_summary([o.latency for o in health])},
        "web_memory": memory,
        "web_peak_delta_mb": peak_delta,
        "processes": sampler.report(),
        "machine_cpu": sampler.machine_report(),
        "series": {"processes": sampler.series(), "zero_s": round(sampler_zero, 2),
                   "uploads": [(round(o.due, 3), round(o.latency, 3), o.code) for o in uploads],
                   "healthz": [(round(o.due, 3), round(o.latency, 4), o.code) for o in health]},
    }
    result["targets"] = {
        "web_peak_delta_mb": {"value": peak_delta, "target": TARGETS["web_peak_delta_mb"],
                              "met": peak_delta is not None
                              and peak_delta <= TARGETS["web_peak_delta_mb"]},
        "non_201": {"value": len(uploads) - codes.get("201", 0), "target": 0,
                    "met": codes.get("201", 0) == len(uploads)},
    }
    print_report(result)
    json_path = report.write_results(NAME, result, args.results_dir)
    png_path = plot(result, args)
    print(f"\nwrote {json_path}\n      {png_path}", flush=True)
    return result


def print_report(result: dict) -> None:
    uploads, health = result["uploads"], result["healthz"]
    target = result["targets"]["web_peak_delta_mb"]
    report.print_table(f"{NAME}: {result['params']['concurrency']} concurrent "
                       f"{result['params']['case']} uploads × {result['params']['rounds']}", [
        ("uploads", uploads["requests"], str(uploads["codes"])),
        ("upload p50 / p99", f"{report.fmt_ms(uploads['latency']['p50_ms'])} / "
                             f"{report.fmt_ms(uploads['latency']['p99_ms'])}",
         f"all done in {result['seconds']} s"),
        ("/healthz p50 / p99 / max", f"{report.fmt_ms(health['latency']['p50_ms'])} / "
                                     f"{report.fmt_ms(health['latency']['p99_ms'])} / "
                                     f"{report.fmt_ms(health['latency']['max_ms'])}",
         str(health["codes"])),
        ("web process peak − before", f"{target['value']} MB",
         f"target ≤ {target['target']} MB: {'met' if target['met'] else 'NOT met'}"),
    ], ("what", "value", "note"))
    report.print_table(f"{NAME}: web processes (exact peaks)", [
        (row["pid"], row["rss_before_mb"], row["peak_mb"], row["peak_delta_mb"],
         row["rss_after_mb"]) for row in result["web_memory"]],
        ("pid", "before MB", "peak MB", "peak − before MB", "after MB"))
    report.print_table(f"{NAME}: processes (sampled every 0.5 s)",
                       report.role_rows(result["processes"]), report.ROLE_HEADERS)


def plot(result: dict, args):
    figure, axes = report.new_figure(3, f"{NAME}: {args.concurrency} × {args.rounds} "
                                        f"{args.case} uploads, target {args.target}")
    series = result["series"]
    axis = axes[0]
    for code in sorted({code for _, _, code in series["uploads"]}):
        points = [(due, latency) for due, latency, c in series["uploads"] if c == code]
        axis.scatter([d for d, _ in points], [latency for _, latency in points], s=8,
                     label=f"upload {code}")
    if series["healthz"]:
        axis.plot([d for d, _, _ in series["healthz"]], [lat for _, lat, _ in series["healthz"]],
                  linewidth=0.8, color="tab:red", label="/healthz")
    axis.set_title("latency (s) by start time")
    axis.set_xlabel("s")
    axis.legend(loc="upper left", fontsize="small")
    axis.grid(alpha=0.3)
    report.plot_rss(axes[1], series["processes"], offset=series["zero_s"])
    report.plot_cpu(axes[2], series["processes"], offset=series["zero_s"])
    return report.save_figure(figure, NAME, args.results_dir)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    async def body(target, sampler):
        await measure(target, sampler, args)

    env = {"SELFIE_UPLOAD_LIMIT": UNLIMITED, "MAX_SELFIES_PER_USER": UNLIMITED,
           "WEB_PROCESSES": str(args.web_processes)}
    return runner.run(NAME, args, env=env, body=body)


if __name__ == "__main__":
    sys.exit(main())
