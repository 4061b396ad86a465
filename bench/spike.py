"""Spike: 5,000 job submissions in 60 s from 300 users who each hold a WebSocket open.

`python -m bench spike [--submits N --seconds S --users U --status-rate R --target run|stack]`

Open loop: submission i is due at i × S / N, round-robin over the users, sent then whatever
happened to earlier ones, and its latency counts from when it was due. Meanwhile
GET /api/v1/jobs/<id>/ of accepted jobs at a fixed rate (open loop too), and every socket
records its messages: `job.event` delivery = receipt − the event's `at`; `queue.position`
update delay = receipt − its `changed_at` (n/a while the server does not send that field).
Providers at real-world limits (2 local providers × 5 slots, renders of 5 s, no cold boot)
so a backlog builds. Measured for the spike plus a tail, then everything stops.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections import Counter

from bench import load, report, runner
from bench.load import OpenLoop, Outcome, SocketFleet

NAME = "spike"
# What "good" looks like on `make run` (see BENCHMARKS.md); printed next to each number.
TARGETS = {"non_202": 0, "submit_p99_ms": 150, "status_p99_ms": 100, "delivery_p99_ms": 500,
           "web_rss_mb": 600}
STACK_TARGETS = {**TARGETS, "submit_p99_ms": 100, "delivery_p99_ms": 250}
PROVIDER_KNOBS = {"mode": "fast", "render_seconds": 5, "boot_seconds": 0}
SLOW_WINDOW_MS = 1000  # a 1-s window whose p99 is above this counts as saturated


def build_parser(defaults: dict):
    parser = runner.parser(
        f"{defaults.get('name', NAME)}: {defaults['submits']:,} job submissions in "
        f"{defaults['seconds']:g} s from {defaults['users']:,} users who each hold a WebSocket.",
        prog=f"python -m bench {defaults.get('name', NAME)}")
    parser.add_argument("--submits", type=int, default=defaults["submits"])
    parser.add_argument("--seconds", type=float, default=defaults["seconds"],
                        help="the submissions are spread evenly over this many seconds")
    parser.add_argument("--users", type=int, default=defaults["users"],
                        help="users, one WebSocket each; submissions go round-robin")
    parser.add_argument("--status-rate", type=float, default=20.0,
                        help="status polls per second (open loop) of accepted jobs")
    parser.add_argument("--tail", type=float, default=10.0,
                        help="seconds measured after the last submission was due")
    parser.add_argument("--timeout", type=float, default=60.0, help="client timeout per request")
    parser.add_argument("--pool", type=int, default=512, help="HTTP connection pool size")
    parser.add_argument("--render-seconds", type=float, default=PROVIDER_KNOBS["render_seconds"])
    parser.add_argument("--boot-seconds", type=float, default=PROVIDER_KNOBS["boot_seconds"])
    parser.add_argument("--name", default=defaults.get("name", NAME),
                        help="results are written as <name>-<date>.json/.png")
    parser.set_defaults(target=defaults.get("target", "run"))
    return parser


def windows(outcomes: list[Outcome], seconds: float, width: float = 1.0) -> list[dict]:
    """Per 1-s window of due time: count, accepted, p50 and p99 (ms)."""
    buckets: dict[int, list[Outcome]] = {}
    for outcome in outcomes:
        buckets.setdefault(int(outcome.due // width), []).append(outcome)
    rows = []
    for index in range(int(seconds // width) + 1):
        inside = buckets.get(index, [])
        latencies = [o.latency for o in inside]
        rows.append({"t": index * width, "n": len(inside),
                     "ok": sum(o.code in ("200", "202") for o in inside),
                     "p50_ms": report.latency_summary(latencies)["p50_ms"],
                     "p99_ms": report.latency_summary(latencies)["p99_ms"]})
    return rows


def http_summary(outcomes: list[Outcome], ok: str) -> dict:
    """Latency over every request (failures at their failure time, cutoffs as lower bounds),
    latency of the successful ones alone, and the count of each other outcome."""
    codes = Counter(o.code for o in outcomes)
    return {
        "requests": len(outcomes),
        "ok": codes.get(ok, 0),
        "latency_all": report.latency_summary([o.latency for o in outcomes]),
        "latency_ok": report.latency_summary([o.latency for o in outcomes if o.code == ok]),
        "not_ok": {code: n for code, n in sorted(codes.items()) if code != ok},
    }


def saturation(submits: list[Outcome], per_second: list[dict], processes: dict,
               samples: dict, offset: float) -> dict:
    """When the server stopped keeping up, and which roles were at a full core around then."""
    failures = sorted(o.due for o in submits if o.code != "202")
    slow = next((w["t"] for w in per_second if w["p99_ms"] is not None
                 and w["p99_ms"] > SLOW_WINDOW_MS), None)
    first = min([t for t in (failures[0] if failures else None, slow) if t is not None],
                default=None)
    busy = {}
    if first is not None:
        t = [value - offset for value in samples["t"]]
        for role, values in samples["cpu_pct"].items():
            around = [v for ti, v in zip(t, values) if first - 1 <= ti <= first + 10]
            if around and max(around) >= 90:
                busy[role] = round(max(around), 0)
    return {"first_non_202_s": round(failures[0], 2) if failures else None,
            "first_window_p99_over_1s_s": slow,
            "roles_at_90pct_of_a_core": busy,
            "roles_near_a_core_overall": {role: info["peak_cpu_pct"]
                                          for role, info in processes.items()
                                          if info["peak_cpu_pct"] >= 90}}


async def measure(target, sampler, args) -> dict:
    users = runner.seed_users(target, args.users)
    loop = asyncio.get_running_loop()
    rng = random.Random(1)
    api = f"{target.url}/api/v1/jobs/"
    accepted: list[tuple[str, runner.BenchUser]] = []
    async with load.session(args.pool, args.timeout) as http, \
            load.session(64, args.timeout) as polling, \
            load.session(args.users + 16, 60) as ws_http:
        fleet = SocketFleet(target.url.replace("http://", "ws://") + "/ws/jobs/", ws_http)
        opening = time.monotonic()
        await fleet.open([(u.user_id, u.token) for u in users], concurrency=50,
                         deadline=loop.time() + 120)
        print(f"{args.name}: {fleet.opened}/{len(users)} sockets open in "
              f"{time.monotonic() - opening:.1f}s; {args.submits} submits over {args.seconds:g}s",
              flush=True)

        zero = loop.time() + 0.2
        wall_zero = time.time() + 0.2
        sampler_zero = sampler.now() + 0.2
        sampler.begin_window()

        async def submit(index: int, due: float) -> Outcome:
            user = users[index % len(users)]
            outcome = await load.request(
                http, "POST", api, due=due, zero=zero, want_json=True, headers=user.headers,
                json={"selfie_id": user.selfie_id, "style": "cyberpunk-hero"})
            if outcome.code == "202" and isinstance(outcome.body, dict) and outcome.body.get("id"):
                accepted.append((outcome.body["id"], user))
            outcome.body = None
            return outcome

        async def poll(index: int, due: float) -> Outcome | None:
            if not accepted:
                return Outcome(due=due - zero, latency=0.0, code="no_job_yet")
            job_id, user = accepted[rng.randrange(len(accepted))]
            return await load.request(polling, "GET", f"{api}{job_id}/", due=due, zero=zero,
                                      headers=user.headers)

        submits = OpenLoop(args.submits, args.seconds, submit, zero, zero)
        polls = OpenLoop(int(args.status_rate * args.seconds), args.seconds, poll, zero, zero)
        end = zero + args.seconds + args.tail
        await asyncio.gather(submits.run(), polls.run())
        await asyncio.gather(submits.drain(end), polls.drain(end))
        await asyncio.sleep(max(0.0, end - loop.time()))  # sockets listen for the whole tail
        sampler.end_window()
        await fleet.close()

    poll_outcomes = [o for o in polls.outcomes if o.code != "no_job_yet"]
    per_second = windows(submits.outcomes, args.seconds + args.tail)
    processes = sampler.report()
    series = sampler.series()
    deliveries = [d.delay for d in fleet.deliveries]
    result = {
        "params": {key: getattr(args, key) for key in ("target", "submits", "seconds", "users",
                                                       "status_rate", "tail", "timeout", "pool",
                                                       "render_seconds", "boot_seconds")},
        "provider_knobs": {**PROVIDER_KNOBS, "render_seconds": args.render_seconds,
                           "boot_seconds": args.boot_seconds},
        "target_started_in_s": round(target.started_in, 1),
        "submit": http_summary(submits.outcomes, "202"),
        "accepted_jobs": len(accepted),
        "status": {**http_summary(poll_outcomes, "200"),
                   "skipped_before_first_accept": len(polls.outcomes) - len(poll_outcomes)},
        "client_lag": report.latency_summary(submits.lag),
        "sockets": {
            "users": len(users), "opened": fleet.opened, "connect_failures": fleet.connect_failures,
            "connect": report.latency_summary(fleet.connect_seconds),
            "messages": dict(sorted(fleet.counts.items())),
            "disconnects": fleet.disconnects, "close_codes": fleet.close_codes,
            "delivery": report.latency_summary(deliveries),
            "queue_position_delay": (report.latency_summary([d for _, d in fleet.position_delays])
                                     if fleet.position_delays else "n/a"),
            "queue_positions_without_changed_at": fleet.positions_without_changed_at,
        },
        "processes": processes,
        "machine_cpu": sampler.machine_report(),
        "per_second": per_second,
    }
    result["saturation"] = saturation(submits.outcomes, per_second, processes, series,
                                      sampler_zero)
    targets = STACK_TARGETS if args.target == "stack" else TARGETS
    result["targets"] = check_targets(result, targets)
    result["series"] = {
        "processes": series, "zero_s": round(sampler_zero, 2),
        # Raw points, thinned to at most 10,000 each (the summaries above use every point).
        "submits": report.thin(sorted((round(o.due, 3), round(o.latency, 4), o.code)
                                      for o in submits.outcomes)),
        "deliveries": report.thin(sorted((round(d.received - wall_zero, 3), round(d.delay, 4))
                                         for d in fleet.deliveries)),
    }
    print_report(args.name, result)
    json_path = report.write_results(args.name, result, args.results_dir)
    png_path = plot(args.name, result, args)
    print(f"\nwrote {json_path}\n      {png_path}", flush=True)
    return result


def check_targets(result: dict, targets: dict) -> dict:
    def verdict(value, limit):
        if value is None:
            return {"value": None, "target": limit, "met": False}
        return {"value": value, "target": limit, "met": value <= limit}

    web = result["processes"].get("web", {}).get("peak_rss_mb")
    return {
        "non_202": verdict(result["submit"]["requests"] - result["submit"]["ok"],
                           targets["non_202"]),
        "submit_p99_ms": verdict(result["submit"]["latency_all"]["p99_ms"],
                                 targets["submit_p99_ms"]),
        "status_p99_ms": verdict(result["status"]["latency_all"]["p99_ms"],
                                 targets["status_p99_ms"]),
        "delivery_p99_ms": verdict(result["sockets"]["delivery"]["p99_ms"],
                                   targets["delivery_p99_ms"]),
        "web_rss_mb": verdict(web, targets["web_rss_mb"]),
    }


def print_report(name: str, result: dict) -> None:
    submit, status, sockets = result["submit"], result["status"], result["sockets"]

    def latency_row(label, summary):
        return (label, summary["n"], report.fmt_ms(summary["p50_ms"]),
                report.fmt_ms(summary["p95_ms"]), report.fmt_ms(summary["p99_ms"]),
                report.fmt_ms(summary["max_ms"]))

    report.print_table(f"{name}: latencies (from when each request was due)", [
        latency_row("submit, all outcomes", submit["latency_all"]),
        latency_row("submit, 202 only", submit["latency_ok"]),
        latency_row("status, all outcomes", status["latency_all"]),
        latency_row("status, 200 only", status["latency_ok"]),
        latency_row("socket job.event delivery", sockets["delivery"]),
        (latency_row("queue.position delay", sockets["queue_position_delay"])
         if isinstance(sockets["queue_position_delay"], dict) else
         ("queue.position delay", "n/a (no changed_at)", "", "", "", "")),
        latency_row("client send lag", result["client_lag"]),
    ], ("what", "n", "p50", "p95", "p99", "max"))
    report.print_table(f"{name}: outcomes", [
        ("submits", submit["requests"], f"202: {submit['ok']}",
         ", ".join(f"{k}: {v}" for k, v in submit["not_ok"].items()) or "-"),
        ("status polls", status["requests"], f"200: {status['ok']}",
         ", ".join(f"{k}: {v}" for k, v in status["not_ok"].items()) or "-"),
        ("sockets", sockets["users"], f"open: {sockets['opened']}",
         f"connect failures: {sockets['connect_failures'] or 0}, disconnects: "
         f"{sockets['disconnects']}"),
        ("socket messages", sum(sockets["messages"].values()), "",
         ", ".join(f"{k}: {v}" for k, v in sockets["messages"].items()) or "-"),
    ], ("what", "n", "ok", "other"))
    report.print_table(f"{name}: processes (measured window)",
                       report.role_rows(result["processes"]), report.ROLE_HEADERS)
    machine = result["machine_cpu"]
    print(f"machine CPU ({machine['cpus']} cores): mean {machine['mean_cpu_pct']:.0f} %, "
          f"peak {machine['peak_cpu_pct']:.0f} % of all cores")
    sat = result["saturation"]
    print(f"saturation: first non-202 at {sat['first_non_202_s']} s, first 1-s window with "
          f"p99 > 1 s at {sat['first_window_p99_over_1s_s']} s; roles at ≥ 90 % of a core "
          f"then: {sat['roles_at_90pct_of_a_core'] or '-'}")
    lag = result["client_lag"]["p99_ms"] or 0
    if lag > 100:
        print(f"note: the load generator itself fell behind its schedule (send lag p99 "
              f"{report.fmt_ms(lag)}); latencies include that lag (they count from when due)")
    report.print_table(f"{name}: targets", [
        (key, value["value"], f"≤ {value['target']}", "met" if value["met"] else "MISSED")
        for key, value in result["targets"].items()], ("target", "measured", "goal", ""))


def plot(name: str, result: dict, args):
    figure, axes = report.new_figure(5, f"{name}: {args.submits} submits over {args.seconds:g}s, "
                                        f"{args.users} users, target {args.target}")
    submits = result["series"]["submits"]
    ok = [(t, lat) for t, lat, code in submits if code == "202"]
    bad = [(t, lat) for t, lat, code in submits if code != "202"]
    axis = axes[0]
    if ok:
        axis.scatter(*zip(*ok), s=2, alpha=0.4, label="202", color="tab:green")
    if bad:
        axis.scatter(*zip(*bad), s=2, alpha=0.4, label="not 202", color="tab:red")
    seconds = result["per_second"]
    axis.plot([w["t"] + 0.5 for w in seconds], [None if w["p50_ms"] is None else w["p50_ms"] / 1000
                                                for w in seconds], label="p50 per s", color="k")
    axis.plot([w["t"] + 0.5 for w in seconds], [None if w["p99_ms"] is None else w["p99_ms"] / 1000
                                                for w in seconds], label="p99 per s",
              color="tab:purple")
    axis.set_yscale("log")
    axis.set_title("submit latency by due time (from when due)")
    axis.set_xlabel("s")
    axis.set_ylabel("s")
    axis.legend(loc="upper left", fontsize="small")
    axis.grid(alpha=0.3)

    axis = axes[1]
    axis.bar([w["t"] for w in seconds], [w["n"] for w in seconds], width=0.9, color="lightgrey",
             label="due", align="edge")
    axis.bar([w["t"] for w in seconds], [w["ok"] for w in seconds], width=0.9,
             color="tab:green", label="accepted (202)", align="edge")
    axis.set_title("submissions per second (by due time)")
    axis.set_xlabel("s")
    axis.legend(loc="upper left", fontsize="small")
    axis.grid(alpha=0.3)

    axis = axes[2]
    deliveries = result["series"]["deliveries"]
    if deliveries:
        axis.scatter([t for t, _ in deliveries], [d for _, d in deliveries], s=2, alpha=0.4)
        axis.set_yscale("log")
    axis.axhline(args_target_delivery(args) / 1000, color="tab:red", linestyle=":",
                 label="target p99")
    axis.set_title("socket job.event delivery (receipt − at) by receipt time")
    axis.set_xlabel("s")
    axis.set_ylabel("s")
    axis.legend(loc="upper left", fontsize="small")
    axis.grid(alpha=0.3)

    offset = result["series"]["zero_s"]
    report.plot_rss(axes[3], result["series"]["processes"], offset=offset)
    report.plot_cpu(axes[4], result["series"]["processes"], offset=offset)
    return report.save_figure(figure, name, args.results_dir)


def args_target_delivery(args) -> float:
    return (STACK_TARGETS if args.target == "stack" else TARGETS)["delivery_p99_ms"]


DEFAULTS = {"submits": 5000, "seconds": 60.0, "users": 300}


def main(argv: list[str] | None = None, defaults: dict | None = None) -> int:
    parser = build_parser(defaults or DEFAULTS)
    args = parser.parse_args(argv)
    if args.users < 1 or args.submits < 1 or args.seconds <= 0 or args.status_rate < 0:
        parser.error("--users and --submits must be ≥ 1, --seconds > 0, --status-rate ≥ 0")
    knobs = {**PROVIDER_KNOBS, "render_seconds": args.render_seconds,
             "boot_seconds": args.boot_seconds}

    async def body(target, sampler):
        await measure(target, sampler, args)

    return runner.run(args.name, args, knobs=knobs, body=body)


if __name__ == "__main__":
    sys.exit(main())
