"""Drain: queue 1,000 jobs at once, time until every one has finished, against the minimum.

`python -m bench drain [--jobs N --users U --render-seconds S --slots K --target run|stack]`

With renders of 0.5 s and no cold boot, the fastest possible drain of N jobs through K provider
slots is N × S ÷ K (1,000 × 0.5 ÷ 10 = 50 s on `make run`'s 2 × 5 slots). Reported: the drain
time ÷ that minimum, and slot utilisation: the local provider's in-flight count (GET /_control,
every 0.1 s) ÷ K, averaged over the samples taken while jobs were still queued.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter

import aiohttp

from bench import load, report, runner
from bench.db import TERMINAL, Database
from bench.load import Outcome

NAME = "drain"
TARGET_RATIO = 1.15
TARGET_UTILISATION = 0.95
DIALECTS = ("replicate", "fal")  # make run: provider "local" speaks replicate, "local-fal" fal


def build_parser():
    parser = runner.parser(__doc__.splitlines()[0], prog=f"python -m bench {NAME}")
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--users", type=int, default=50, help="jobs go round-robin over them")
    parser.add_argument("--render-seconds", type=float, default=0.5)
    parser.add_argument("--slots", type=int, default=10,
                        help="total provider slots of the target (make run: 2 providers × 5)")
    parser.add_argument("--concurrency", type=int, default=32,
                        help="submissions in flight while queueing the jobs")
    parser.add_argument("--max-seconds", type=float, default=220.0,
                        help="queueing and draining together stop after this long (the run "
                             "stays under 5 minutes); what finished by then is reported")
    return parser


async def measure(target, sampler, args) -> dict:
    users = runner.seed_users(target, args.users)
    database = Database(target.app_env["DATABASE_URL"])
    loop = asyncio.get_running_loop()
    minimum = args.jobs * args.render_seconds / args.slots
    counts_series: list[tuple[float, dict]] = []
    in_flight_series: list[tuple[float, int, dict]] = []
    latest = {"queued": 0, "terminal": 0}
    done = asyncio.Event()
    accepted: list[str] = []

    async with load.session(args.concurrency + 8, 60) as http, load.session(4, 5) as control:
        zero = loop.time()
        sampler_zero = sampler.now()
        sampler.begin_window()

        async def watch_database() -> None:
            while not done.is_set():
                counts = await asyncio.to_thread(database.job_counts)
                t = loop.time() - zero
                counts_series.append((t, counts))
                latest["queued"] = counts.get("queued", 0)
                latest["terminal"] = sum(counts.get(s, 0) for s in TERMINAL)
                await asyncio.sleep(0.25)

        async def watch_provider() -> None:
            while not done.is_set():
                due = loop.time()
                try:
                    async with control.get(f"{target.provider_url}/_control") as response:
                        state = await response.json()
                    counters = state["counters"]
                    in_flight_series.append((
                        due - zero, counters["in_flight"],
                        {d: counters["by_dialect"][d]["in_flight"] for d in DIALECTS},
                        latest["queued"]))
                except (OSError, ValueError, KeyError, asyncio.TimeoutError, aiohttp.ClientError):
                    pass
                await asyncio.sleep(max(0.0, due + 0.1 - loop.time()))

        watchers = [asyncio.create_task(watch_database()), asyncio.create_task(watch_provider())]
        print(f"{NAME}: queueing {args.jobs} jobs from {len(users)} users "
              f"({args.concurrency} at a time); minimum drain {minimum:.0f}s", flush=True)
        outcomes: list[Outcome] = []
        queue = iter(range(args.jobs))

        async def submitter() -> None:
            for index in queue:
                user = users[index % len(users)]
                outcome = await load.request(
                    http, "POST", f"{target.url}/api/v1/jobs/", due=loop.time(), zero=zero,
                    want_json=True, headers=user.headers,
                    json={"selfie_id": user.selfie_id, "style": "cyberpunk-hero"})
                if outcome.code == "202" and isinstance(outcome.body, dict):
                    accepted.append(outcome.body.get("id"))
                outcome.body = None
                outcomes.append(outcome)

        deadline = zero + args.max_seconds
        submitting = [asyncio.create_task(submitter()) for _ in range(args.concurrency)]
        _, late = await asyncio.wait(submitting, timeout=args.max_seconds)
        for task in late:
            task.cancel()
        submitted_at = loop.time() - zero
        print(f"{NAME}: {len(accepted)} of {args.jobs} accepted in {submitted_at:.1f}s; "
              f"waiting for them to finish", flush=True)
        finished_at = None
        while loop.time() < deadline:
            if accepted and latest["terminal"] >= len(accepted):
                finished_at = loop.time() - zero
                break
            await asyncio.sleep(0.1)
        done.set()
        await asyncio.gather(*watchers, return_exceptions=True)
        sampler.end_window()
    final_counts = await asyncio.to_thread(database.job_counts)
    database.close()

    ok_times = [o.due + o.latency for o in outcomes if o.code == "202"]
    backlog = [(t, n, by, q) for t, n, by, q in in_flight_series if q > 0]
    per_dialect_limit = args.slots / len(DIALECTS)
    utilisation = (sum(n for _, n, _, _ in backlog) / len(backlog) / args.slots
                   if backlog else None)
    drain_seconds = finished_at
    result = {
        "params": {key: getattr(args, key) for key in ("target", "jobs", "users", "render_seconds",
                                                       "slots", "concurrency", "max_seconds")},
        "provider_knobs": knobs(args),
        "minimum_s": round(minimum, 2),
        "submit": {"requests": len(outcomes), "accepted": len(accepted),
                   "codes": dict(Counter(o.code for o in outcomes)),
                   "latency": report.latency_summary([o.latency for o in outcomes]),
                   "first_accepted_s": round(min(ok_times), 2) if ok_times else None,
                   "last_accepted_s": round(max(ok_times), 2) if ok_times else None},
        "drain_s": round(drain_seconds, 2) if drain_seconds is not None else None,
        "drain_after_last_accept_s": (round(drain_seconds - max(ok_times), 2)
                                      if drain_seconds is not None and ok_times else None),
        "ratio_to_minimum": (round(drain_seconds / (len(accepted) * args.render_seconds
                                                    / args.slots), 3)
                             if drain_seconds is not None and accepted else None),
        "finished": finished_at is not None,
        # When the drain did not end in time: how fast jobs finished vs. slots ÷ render time.
        "finished_per_s": round(latest["terminal"]
                                / max(1e-9, finished_at or (loop.time() - zero)), 2),
        "max_per_s": round(args.slots / args.render_seconds, 2),
        "final_job_counts": final_counts,
        "utilisation": round(utilisation, 3) if utilisation is not None else None,
        "utilisation_by_dialect": {
            d: round(sum(by[d] for _, _, by, _ in backlog) / len(backlog) / per_dialect_limit, 3)
            for d in DIALECTS} if backlog else None,
        "backlog_samples": len(backlog),
        "provider_peak_in_flight": max((n for _, n, _, _ in in_flight_series), default=0),
        "processes": sampler.report(),
        "machine_cpu": sampler.machine_report(),
        "series": {"in_flight": [(round(t, 2), n, q) for t, n, _, q in in_flight_series],
                   "jobs": [(round(t, 2), c) for t, c in counts_series],
                   "accepted_at": sorted(round(t, 3) for t in ok_times),
                   "processes": sampler.series(), "zero_s": round(sampler_zero, 2)},
    }
    result["targets"] = {
        "ratio_to_minimum": {"value": result["ratio_to_minimum"], "target": TARGET_RATIO,
                             "met": (result["ratio_to_minimum"] or 99) <= TARGET_RATIO},
        "utilisation": {"value": result["utilisation"], "target": TARGET_UTILISATION,
                        "met": (result["utilisation"] or 0) >= TARGET_UTILISATION},
    }
    print_report(result)
    json_path = report.write_results(NAME, result, args.results_dir)
    png_path = plot(result, args, sampler)
    print(f"\nwrote {json_path}\n      {png_path}", flush=True)
    return result


def print_report(result: dict) -> None:
    submit = result["submit"]
    report.print_table(f"{NAME}: {result['params']['jobs']} jobs, "
                       f"{result['params']['slots']} slots, renders of "
                       f"{result['params']['render_seconds']} s", [
        ("accepted", f"{submit['accepted']} of {result['params']['jobs']}",
         f"{submit['requests']} sent before the time limit; {submit['codes']}"),
        ("submit latency p50 / p99", f"{report.fmt_ms(submit['latency']['p50_ms'])} / "
                                     f"{report.fmt_ms(submit['latency']['p99_ms'])}", ""),
        ("last job accepted at", f"{submit['last_accepted_s']} s", ""),
        ("all finished at", f"{result['drain_s']} s" if result["finished"] else
         f"not within {result['params']['max_seconds']:.0f} s", str(result["final_job_counts"])),
        ("minimum (jobs × render ÷ slots)", f"{result['minimum_s']} s", ""),
        ("drain ÷ minimum", result["ratio_to_minimum"], f"target ≤ {TARGET_RATIO}"),
        ("jobs finished per second", result["finished_per_s"],
         f"at most slots ÷ render = {result['max_per_s']}"),
        ("slot utilisation while queued", result["utilisation"],
         f"target ≥ {TARGET_UTILISATION}; by dialect {result['utilisation_by_dialect']}; "
         f"{result['backlog_samples']} samples"),
        ("provider peak in flight", result["provider_peak_in_flight"], ""),
    ], ("what", "value", "note"))
    report.print_table(f"{NAME}: processes", report.role_rows(result["processes"]),
                       report.ROLE_HEADERS)


def plot(result: dict, args, sampler):
    figure, axes = report.new_figure(4, f"{NAME}: {args.jobs} jobs, {args.slots} slots, "
                                        f"renders {args.render_seconds}s, target {args.target}")
    series = result["series"]
    axis = axes[0]
    if series["in_flight"]:
        t, n, q = zip(*series["in_flight"])
        axis.plot(t, n, label="provider in flight", linewidth=0.8)
    axis.axhline(args.slots, color="tab:red", linestyle=":", label="slots")
    axis.set_title("provider in flight (GET /_control every 0.1 s)")
    axis.set_xlabel("s")
    axis.legend(loc="upper right", fontsize="small")
    axis.grid(alpha=0.3)
    axis = axes[1]
    if series["jobs"]:
        t = [row[0] for row in series["jobs"]]
        axis.plot(t, [row[1].get("queued", 0) for row in series["jobs"]], label="queued")
        axis.plot(t, [sum(row[1].get(s, 0) for s in TERMINAL) for row in series["jobs"]],
                  label="finished")
    if series["accepted_at"]:
        axis.plot(series["accepted_at"], range(1, len(series["accepted_at"]) + 1),
                  label="accepted (202)")
    axis.set_title("jobs")
    axis.set_xlabel("s")
    axis.legend(loc="upper left", fontsize="small")
    axis.grid(alpha=0.3)
    report.plot_rss(axes[2], series["processes"], offset=series["zero_s"])
    report.plot_cpu(axes[3], series["processes"], offset=series["zero_s"])
    return report.save_figure(figure, NAME, args.results_dir)


def knobs(args) -> dict:
    return {"mode": "fast", "render_seconds": args.render_seconds, "boot_seconds": 0}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    async def body(target, sampler):
        await measure(target, sampler, args)

    return runner.run(NAME, args, env={"MAX_ACTIVE_JOBS_PER_USER": "1000000"}, knobs=knobs(args),
                      body=body)


if __name__ == "__main__":
    sys.exit(main())
