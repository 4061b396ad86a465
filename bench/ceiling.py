"""Ceiling: closed-loop throughput of four endpoints against one server, as ratios to /healthz.

`python -m bench ceiling [--connections C --seconds T --users U --target run|stack]`

C connections each send back-to-back for T seconds per endpoint, one endpoint after the other
in one run: GET /healthz (the floor of the stack: routing, middleware, the server itself),
POST /api/v1/jobs/ (U users with a quota high enough that none sees a 429),
GET /api/v1/jobs/<id>/ (jobs accepted in the previous phase) and webhook ingest
POST /webhooks/local/ (Replicate dialect, Standard Webhooks signature with the development
secret, a distinct webhook-id per request, a `processing` prediction of a job the provider
really accepted; unknown ids only when none was accepted yet, which the report says).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import sys
from collections import Counter
from datetime import datetime, timezone

from standardwebhooks.webhooks import Webhook

from bench import load, report, runner
from bench.db import Database

NAME = "ceiling"
TARGETS = {"submit": 0.5, "status": 0.7, "webhook": 0.5}  # × healthz req/s
PROVIDER = "local"  # make run: the local provider in the Replicate dialect


def build_parser():
    parser = runner.parser(__doc__.splitlines()[0], prog=f"python -m bench {NAME}")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0, help="per endpoint")
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--webhook-provider", default=PROVIDER,
                        help="the configured provider (Replicate dialect) whose webhook URL is hit")
    return parser


def replicate_prediction(prediction_id: str, n: int) -> str:
    now = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
    return json.dumps({
        "id": prediction_id, "model": "surge/cyberpunk-hero", "version": "bench",
        "status": "processing", "input": {}, "output": None, "error": None,
        "logs": f"bench webhook {n}\n", "data_removed": False,
        "created_at": now, "started_at": now, "completed_at": None,
        "urls": {"get": f"https://api.replicate.com/v1/predictions/{prediction_id}"},
    }, separators=(",", ":"))


async def measure(target, sampler, args) -> dict:
    users = runner.seed_users(target, args.users)
    api = f"{target.url}/api/v1/jobs/"
    phases: dict[str, dict] = {}
    accepted: list[tuple[str, str]] = []  # (job id, Authorization header)
    signer = Webhook(target.webhook_secret)
    counter = itertools.count()
    sampler_zero = sampler.now()
    sampler.begin_window()
    marks: dict[str, tuple[float, float]] = {}

    async with load.session(args.connections, 30) as http:
        async def phase(name: str, make_request, ok: str, on_outcome=None) -> None:
            start = sampler.now()
            outcomes, elapsed = await load.closed_loop(http, args.connections, args.seconds,
                                                       make_request, on_outcome)
            end = sampler.now()
            marks[name] = (start - sampler_zero, end - sampler_zero)
            codes = Counter(o.code for o in outcomes)
            phases[name] = {
                "requests": len(outcomes), "ok": codes.get(ok, 0), "elapsed_s": round(elapsed, 2),
                "req_per_s": round(len(outcomes) / elapsed, 1),
                "ok_per_s": round(codes.get(ok, 0) / elapsed, 1),
                "latency": report.latency_summary([o.latency for o in outcomes]),
                "codes": dict(codes),
                "cpu": phase_cpu(sampler.cpu_between(start, end), codes.get(ok, 0) / elapsed),
            }
            print(f"{NAME}: {name}: {phases[name]['ok_per_s']} ok/s "
                  f"(p99 {report.fmt_ms(phases[name]['latency']['p99_ms'])}, codes {dict(codes)})",
                  flush=True)
            await asyncio.sleep(1)

        await phase("healthz", lambda w, i: ("GET", f"{target.url}/healthz", {}), "200")

        def submit(worker: int, sent: int):
            user = users[(worker + sent * args.connections) % len(users)]
            return ("POST", api, {"headers": user.headers, "want_json": True,
                                  "json": {"selfie_id": user.selfie_id, "style": "cyberpunk-hero"}})

        def keep_accepted(kwargs: dict, outcome) -> None:
            if outcome.code == "202" and isinstance(outcome.body, dict) and outcome.body.get("id"):
                accepted.append((outcome.body["id"], kwargs["headers"]["Authorization"]))

        await phase("submit", submit, "202", keep_accepted)

        status_ids = accepted or [("00000000-0000-0000-0000-000000000000",
                                   users[0].headers["Authorization"])]

        def status(worker: int, sent: int):
            job_id, token = status_ids[(worker + sent * args.connections) % len(status_ids)]
            return ("GET", f"{api}{job_id}/", {"headers": {"Authorization": token}})

        await phase("status", status, "200")

        database = Database(target.app_env["DATABASE_URL"])
        try:
            known = await asyncio.to_thread(database.provider_job_ids, args.webhook_provider, 5000)
        finally:
            database.close()
        webhook_ids = known or [f"bench-unknown-{n}" for n in range(1000)]

        def webhook(worker: int, sent: int):
            n = next(counter)
            body = replicate_prediction(webhook_ids[n % len(webhook_ids)], n)
            message_id = f"msg_bench_{n}_{worker}"
            now = datetime.now(timezone.utc)
            headers = {"Content-Type": "application/json", "webhook-id": message_id,
                       "webhook-timestamp": str(int(now.timestamp())),
                       "webhook-signature": signer.sign(message_id, now, body)}
            return ("POST", f"{target.url}/webhooks/{args.webhook_provider}/",
                    {"data": body.encode(), "headers": headers})

        await phase("webhook", webhook, "200")
    sampler.end_window()

    base = phases["healthz"]["ok_per_s"] or None
    for name, info in phases.items():
        info["ratio_to_healthz"] = round(info["ok_per_s"] / base, 3) if base else None
    result = {
        "params": {key: getattr(args, key) for key in ("target", "connections", "seconds", "users",
                                                       "webhook_provider")},
        "phases": phases,
        "status_job_ids": "accepted in the submit phase" if accepted else "none accepted: an "
                          "unknown id (404s)",
        "webhook_prediction_ids": (f"{len(known)} provider job ids of real jobs" if known else
                                   "unknown ids (no job had reached the provider)"),
        "targets": {name: {"value": phases[name]["ratio_to_healthz"], "target": goal,
                           "met": (phases[name]["ratio_to_healthz"] or 0) >= goal}
                    for name, goal in TARGETS.items()},
        "processes": sampler.report(),
        "machine_cpu": sampler.machine_report(),
        "series": {"processes": sampler.series(), "zero_s": round(sampler_zero, 2),
                   "phases": marks},
    }
    print_report(result)
    json_path = report.write_results(NAME, result, args.results_dir)
    png_path = plot(result, args)
    print(f"\nwrote {json_path}\n      {png_path}", flush=True)
    return result


def phase_cpu(cpu: dict, ok_per_s: float) -> dict:
    """A phase's CPU: the machine's, each role's, and the web processes' per successful request
    (ms of CPU), which says whether the phase ran out of cores or waited on something else."""
    web = cpu["roles_pct"].get("web")
    return {**cpu, "web_ms_per_ok": round(10 * web / ok_per_s, 2) if web and ok_per_s else None}


def print_report(result: dict) -> None:
    rows = []
    for name, info in result["phases"].items():
        goal = TARGETS.get(name)
        cpu = info["cpu"]
        rows.append((name, info["requests"], info["ok_per_s"], info["ratio_to_healthz"],
                     f"≥ {goal}" if goal else "", report.fmt_ms(info["latency"]["p50_ms"]),
                     report.fmt_ms(info["latency"]["p99_ms"]),
                     _percent(cpu["machine_pct"]), _percent(cpu["roles_pct"].get("web")),
                     cpu["web_ms_per_ok"] if cpu["web_ms_per_ok"] is not None else "-",
                     ", ".join(f"{k}: {v}" for k, v in sorted(info["codes"].items()))))
    params = result["params"]
    report.print_table(f"{NAME}: {params['connections']} connections × {params['seconds']:g} s "
                       f"per endpoint", rows,
                       ("endpoint", "requests", "ok/s", "× healthz", "goal", "p50", "p99",
                        "machine CPU", "web CPU", "web ms/ok", "codes"))
    print(f"machine CPU: % of all {result['machine_cpu']['cpus']} cores; web CPU: % of one core "
          "(the web processes together); web ms/ok: their CPU per successful request")
    print(f"status ids: {result['status_job_ids']}; "
          f"webhook ids: {result['webhook_prediction_ids']}")
    report.print_table(f"{NAME}: processes", report.role_rows(result["processes"]),
                       report.ROLE_HEADERS)


def _percent(value) -> str:
    return "-" if value is None else f"{value:g} %"


def plot(result: dict, args):
    figure, axes = report.new_figure(3, f"{NAME}: {args.connections} connections × "
                                        f"{args.seconds:g}s per endpoint, target {args.target}")
    names = list(result["phases"])
    axis = axes[0]
    bars = axis.bar(names, [result["phases"][n]["ok_per_s"] for n in names], color="tab:blue")
    for bar, name in zip(bars, names):
        ratio = result["phases"][name]["ratio_to_healthz"]
        axis.annotate(f"{ratio}×" if ratio is not None else "", (bar.get_x() + bar.get_width() / 2,
                                                                 bar.get_height()),
                      ha="center", va="bottom")
    axis.set_title("successful requests per second (× healthz on top)")
    axis.grid(alpha=0.3, axis="y")
    axis = axes[1]
    width = 0.4
    positions = range(len(names))
    axis.bar([p - width / 2 for p in positions],
             [result["phases"][n]["latency"]["p50_ms"] or 0 for n in names], width, label="p50")
    axis.bar([p + width / 2 for p in positions],
             [result["phases"][n]["latency"]["p99_ms"] or 0 for n in names], width, label="p99")
    axis.set_xticks(list(positions), names)
    axis.set_yscale("log")
    axis.set_ylabel("ms")
    axis.set_title("latency")
    axis.legend(fontsize="small")
    axis.grid(alpha=0.3, axis="y")
    report.plot_cpu(axes[2], result["series"]["processes"], offset=result["series"]["zero_s"])
    for name, (start, end) in result["series"]["phases"].items():
        axes[2].axvspan(start, end, alpha=0.08, color="grey")
        axes[2].text(start, 5, name, fontsize="small")
    return report.save_figure(figure, NAME, args.results_dir)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    async def body(target, sampler):
        await measure(target, sampler, args)

    return runner.run(NAME, args, env={"MAX_ACTIVE_JOBS_PER_USER": "1000000"},
                      knobs={"mode": "fast", "render_seconds": 2, "boot_seconds": 0}, body=body)


if __name__ == "__main__":
    sys.exit(main())
