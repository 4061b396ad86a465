"""ETA: how close the promised wait is to the real one, with the provider cold and warm.

`python -m bench eta [--jobs-per-wave N --render-seconds S --boot-seconds B --target run|stack]`

Waves of N jobs (more than the 10 slots of `make run`, so some wait in line) are submitted at
once; every job is polled (GET /api/v1/jobs/<id>/, every 0.5 s) until it finishes, as a client
would. Waves, in order:

- cold-first: a fresh app, models unloaded, nothing measured yet (the defaults: 60 s render,
  40 s boot);
- warm-1, warm-2: models loaded, the renders just measured;
- cold-known: models unloaded and the app knows it (no recent render: its "warm" note cleared),
  with boots measured;
- cold-unexpected: models unloaded behind the app's back (it believes them warm): the promise
  may only go up when the provider says it is booting (a new cause).

Per job: predicted ÷ actual for the ETA in the 202 answer (from acceptance, so the queue estimate
included) and for the first promise after dispatch that the job keeps (`eta_promised_seconds`,
read from the database); and how often a job's ETA went up between two polls, with and without a
new cause (a cold boot or a requeue). A ratio of 1 is exact; > 1 promised too long.
"""

from __future__ import annotations

import asyncio
import sys
import time

import redis

from bench import load, report, runner
from bench.db import TERMINAL, Database

NAME = "eta"
WAVES = ("cold-first", "warm-1", "warm-2", "cold-known", "cold-unexpected")
POLL_SECONDS = 0.5
RISE_TOLERANCE = 1.5  # seconds: rounding of two whole-second ETAs taken 0.5 s apart


def build_parser():
    parser = runner.parser(__doc__.splitlines()[0], prog=f"python -m bench {NAME}")
    parser.add_argument("--jobs-per-wave", type=int, default=14,
                        help="submitted at once; above the target's 10 slots some wait in line")
    parser.add_argument("--users", type=int, default=4, help="jobs go round-robin over them")
    parser.add_argument("--render-seconds", type=float, default=2.0,
                        help="the local provider's render time")
    parser.add_argument("--boot-seconds", type=float, default=15.0,
                        help="the local provider's cold boot")
    parser.add_argument("--wave-timeout", type=float, default=60.0)
    return parser


def knobs(args) -> dict:
    return {"mode": "fast", "render_seconds": args.render_seconds,
            "boot_seconds": args.boot_seconds}


def forget_warm_providers(target) -> int:
    """Clear the app's "provider rendered lately" notes (jobs/eta.py), so it expects a boot."""
    client = redis.Redis.from_url(target.app_env["REDIS_URL"])
    try:
        keys = list(client.scan_iter(match="*jobs:eta-warm:*"))
        return client.delete(*keys) if keys else 0
    finally:
        client.close()


async def run_wave(http, target, users, args, wave: str) -> list[dict]:
    """Submit a wave at once and poll every job until it is finished."""
    loop = asyncio.get_running_loop()
    jobs: list[dict] = []

    async def submit(index: int) -> None:
        user = users[index % len(users)]
        async with http.post(f"{target.url}/api/v1/jobs/", headers=user.headers,
                             json={"selfie_id": user.selfie_id, "style": "cyberpunk-hero"}) as r:
            body = await r.json()
            if r.status != 202:
                raise RuntimeError(f"submit answered {r.status}: {body}")
        jobs.append({"id": body["id"], "user": user, "wave": wave, "accepted": time.time(),
                     "accept_eta": body["eta_seconds"], "accept_position": body["queue_position"],
                     "created_at": load.parse_time(body["created_at"]),
                     "polls": [(time.time(), body["status"], body["eta_seconds"])]})

    await asyncio.gather(*(submit(index) for index in range(args.jobs_per_wave)))
    deadline = loop.time() + args.wave_timeout

    async def follow(job: dict) -> None:
        while loop.time() < deadline:
            await asyncio.sleep(POLL_SECONDS)
            async with http.get(f"{target.url}/api/v1/jobs/{job['id']}/",
                                headers=job["user"].headers) as response:
                body = await response.json()
            job["polls"].append((time.time(), body["status"], body["eta_seconds"]))
            if body["status"] in TERMINAL:
                job["status"] = body["status"]
                job["finished_at"] = load.parse_time(body["updated_at"])  # the database's below
                return
        job["status"] = "timeout"

    await asyncio.gather(*(follow(job) for job in jobs))
    return jobs


def rises(polls: list[tuple]) -> tuple[int, int, float]:
    """(rises without a new cause, rises with one, the largest rise in seconds) over a job's
    polls. A rise: the ETA is above the last one less the time since, by more than rounding."""
    without = with_cause = 0
    largest = 0.0
    seen: set[str] = set()
    previous = None
    for at, status, eta in polls:
        new_cause = (status == "warming" and "warming" not in seen) or (
            status == "queued" and seen - {"queued"})
        seen.add(status)
        if eta is None:
            continue
        if previous is not None:
            rise = eta - (previous[1] - (at - previous[0]))
            if rise > RISE_TOLERANCE:
                largest = max(largest, rise)
                if new_cause:
                    with_cause += 1
                else:
                    without += 1
        previous = (at, eta)
    return without, with_cause, largest


def summarise(jobs: list[dict], recorded: dict[str, tuple]) -> dict:
    accept, dispatch, unfinished = [], [], 0
    cold_jobs = 0
    counts = {"rises_without_cause": 0, "rises_with_cause": 0, "largest_rise_s": 0.0}
    for job in jobs:
        if job.get("status") != "succeeded" or not job.get("finished_at"):
            unfinished += 1
            continue
        cold_jobs += any(status == "warming" for _, status, _ in job["polls"])
        promised_at, promised, finished = recorded.get(job["id"], (None, None, None))
        actual = (finished or job["finished_at"]) - job["created_at"]
        if job["accept_eta"] and actual > 0:
            accept.append(job["accept_eta"] / actual)
        if promised_at and promised and finished and finished > promised_at:
            dispatch.append(promised / (finished - promised_at))
        job["ratio_accept"] = accept[-1] if accept else None
        without, with_cause, largest = rises(job["polls"])
        counts["rises_without_cause"] += without
        counts["rises_with_cause"] += with_cause
        counts["largest_rise_s"] = round(max(counts["largest_rise_s"], largest), 1)

    def spread(values):
        return {"n": len(values), **{f"p{q}": (round(report.percentile(values, q), 2)
                                               if values else None) for q in (10, 50, 90)},
                "max": round(max(values), 2) if values else None}

    return {"jobs": len(jobs), "unfinished": unfinished, "saw_warming": cold_jobs,
            "ratio_at_accept": spread(accept), "ratio_at_dispatch": spread(dispatch),
            "ratios_at_accept": [round(v, 3) for v in accept],
            "ratios_at_dispatch": [round(v, 3) for v in dispatch], **counts}


async def measure(target, sampler, args) -> dict:
    users = runner.seed_users(target, args.users)
    database = Database(target.app_env["DATABASE_URL"])
    waves: dict[str, dict] = {}
    polls: dict[str, list] = {}
    async with load.session(64, 30) as http:
        for wave in WAVES:
            if wave.startswith("cold"):
                target.provider_control(unload_models=True)
                if wave != "cold-unexpected":
                    forget_warm_providers(target)
            started = time.monotonic()
            jobs = await run_wave(http, target, users, args, wave)
            recorded = await asyncio.to_thread(database.eta_promises,
                                               [job["id"] for job in jobs])
            waves[wave] = summarise(jobs, recorded)
            waves[wave]["seconds"] = round(time.monotonic() - started, 1)
            polls[wave] = [[(round(at - job["accepted"], 2), status, eta)
                            for at, status, eta in job["polls"]] for job in jobs[:3]]
            print(f"{NAME}: {wave}: {waves[wave]['jobs']} jobs in {waves[wave]['seconds']} s; "
                  f"predicted ÷ actual p50 {waves[wave]['ratio_at_accept']['p50']} (accept), "
                  f"{waves[wave]['ratio_at_dispatch']['p50']} (dispatch)", flush=True)
            if wave.startswith("cold"):
                await asyncio.sleep(1.0)  # the last webhooks land before the next unload
    database.close()
    everything = [v for wave in waves.values() for v in wave["ratios_at_dispatch"]]
    result = {
        "params": {key: getattr(args, key) for key in ("target", "jobs_per_wave", "users",
                                                       "render_seconds", "boot_seconds")},
        "provider_knobs": knobs(args),
        "waves": waves,
        "all_waves_ratio_at_dispatch": {
            f"p{q}": round(report.percentile(everything, q), 2) if everything else None
            for q in (10, 50, 90)},
        "example_polls": polls,
    }
    print_report(result)
    json_path = report.write_results(NAME, result, args.results_dir)
    png_path = plot(result, args)
    print(f"\nwrote {json_path}\n      {png_path}", flush=True)
    return result


def print_report(result: dict) -> None:
    rows = []
    for wave, data in result["waves"].items():
        accept, dispatch = data["ratio_at_accept"], data["ratio_at_dispatch"]
        rows.append((wave, data["jobs"], data["saw_warming"],
                     f"{accept['p10']} / {accept['p50']} / {accept['p90']}",
                     f"{dispatch['p10']} / {dispatch['p50']} / {dispatch['p90']}",
                     data["rises_without_cause"], data["rises_with_cause"],
                     data["largest_rise_s"], data["unfinished"]))
    params = result["params"]
    report.print_table(
        f"{NAME}: predicted ÷ actual (1 = exact), {params['jobs_per_wave']} jobs a wave, "
        f"renders {params['render_seconds']} s, boots {params['boot_seconds']} s", rows,
        ("wave", "jobs", "booted", "at accept p10/p50/p90", "at dispatch p10/p50/p90",
         "rises w/o cause", "rises w/ cause", "largest rise s", "unfinished"))


def plot(result: dict, args):
    figure, axes = report.new_figure(2, f"{NAME}: predicted ÷ actual per job, by wave "
                                        f"(renders {args.render_seconds} s, boots "
                                        f"{args.boot_seconds} s)")
    waves = list(result["waves"])
    for axis, key, title in ((axes[0], "ratios_at_accept", "ETA in the 202 answer (incl. line)"),
                             (axes[1], "ratios_at_dispatch", "first promise after dispatch")):
        data = [result["waves"][wave][key] or [float("nan")] for wave in waves]
        axis.boxplot(data, showfliers=True)
        for index, values in enumerate(data, start=1):
            axis.scatter([index] * len(values), values, s=8, alpha=0.5)
        axis.set_xticks(range(1, len(waves) + 1), waves)
        axis.axhline(1.0, color="tab:green", linestyle=":", label="exact")
        axis.set_yscale("log")
        axis.set_ylabel("predicted ÷ actual")
        axis.set_title(title)
        axis.legend(loc="upper right", fontsize="small")
        axis.grid(alpha=0.3)
    return report.save_figure(figure, NAME, args.results_dir)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    async def body(target, sampler):
        await measure(target, sampler, args)

    return runner.run(NAME, args, env={"MAX_ACTIVE_JOBS_PER_USER": "1000000"},
                      knobs=knobs(args), body=body)


if __name__ == "__main__":
    sys.exit(main())
