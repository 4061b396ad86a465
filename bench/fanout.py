"""Fan-out: 5,000 open WebSockets; memory per idle socket, then delivery to every socket.

`python -m bench fanout [--sockets N --users U --active-users A --target run|stack]`

U users hold N ÷ U sockets each on /ws/jobs/ (default 500 × 10). The web processes' RSS is
measured before and after opening them (→ KB per idle socket). Then A of those users submit a
job each, renders of 3 s run, and every `job.event` reaches all sockets of its user: reported
is the delivery p99 (receipt − the event's `at`) over all of them, and how many sockets saw
each job finish.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from collections import Counter

from bench import load, report, runner
from bench.load import OpenLoop, Outcome, SocketFleet

NAME = "fanout"
TARGETS = {"sockets": 5000, "delivery_p99_ms": 250, "kb_per_socket": 60}
SOCKET_ROLES = ("web",)  # uvicorn serves HTTP and WebSockets in one process


def build_parser():
    parser = runner.parser(__doc__.splitlines()[0], prog=f"python -m bench {NAME}")
    parser.add_argument("--sockets", type=int, default=5000)
    parser.add_argument("--users", type=int, default=500)
    parser.add_argument("--active-users", type=int, default=50,
                        help="users who submit a job (each of their sockets gets its events)")
    parser.add_argument("--render-seconds", type=float, default=3.0)
    parser.add_argument("--open-concurrency", type=int, default=100,
                        help="WebSocket handshakes in flight at once")
    parser.add_argument("--open-seconds", type=float, default=140.0,
                        help="stop opening sockets after this long")
    parser.add_argument("--progress-seconds", type=float, default=40.0,
                        help="how long to follow the jobs' events at most")
    return parser


async def settled_rss(sampler, roles=SOCKET_ROLES) -> int:
    """Median of three samples a second apart (the allocator gives memory back lazily)."""
    values = []
    for _ in range(3):
        values.append(await asyncio.to_thread(sampler.role_rss, roles))
        await asyncio.sleep(1.0)
    return int(statistics.median(values))


async def measure(target, sampler, args) -> dict:
    users = runner.seed_users(target, args.users)
    per_user = max(1, args.sockets // len(users))
    loop = asyncio.get_running_loop()
    api = f"{target.url}/api/v1/jobs/"
    ws_url = target.url.replace("http://", "ws://") + "/ws/jobs/"
    async with load.session(args.sockets + 64, 60) as ws_http, load.session(64, 60) as http:
        # Warm the web process (imports, connection pools) before the baseline.
        warm = SocketFleet(ws_url, ws_http)
        await warm.open([(u.user_id, u.token) for u in users[:5]], concurrency=5,
                        deadline=loop.time() + 60)
        await warm.close()
        for user in users[:3]:
            await load.request(http, "GET", api, due=loop.time(), zero=0.0, headers=user.headers)
        await asyncio.sleep(2)
        before = await settled_rss(sampler)

        fleet = SocketFleet(ws_url, ws_http)
        clients = [(u.user_id, u.token) for _ in range(per_user) for u in users][:args.sockets]
        opening = loop.time()
        print(f"{NAME}: opening {len(clients)} sockets ({per_user} per user, "
              f"{args.open_concurrency} handshakes at a time) …", flush=True)
        await fleet.open(clients, concurrency=args.open_concurrency,
                         deadline=opening + args.open_seconds)
        open_seconds = loop.time() - opening
        print(f"{NAME}: {fleet.opened} open in {open_seconds:.1f}s; failures "
              f"{fleet.connect_failures or 0}", flush=True)
        await asyncio.sleep(2)
        after = await settled_rss(sampler)
        open_before_progress = fleet.opened - fleet.disconnects

        # Progress: one job per active user; its events go to every socket of that user.
        active = users[:args.active_users]
        zero = loop.time()
        sampler_zero = sampler.now()
        sampler.begin_window()
        wall_zero = time.time()
        accepted: dict[str, int] = {}

        async def submit(index: int, due: float) -> Outcome:
            user = active[index]
            outcome = await load.request(
                http, "POST", api, due=due, zero=zero, want_json=True, headers=user.headers,
                json={"selfie_id": user.selfie_id, "style": "cyberpunk-hero"})
            if outcome.code == "202" and isinstance(outcome.body, dict):
                accepted[outcome.body["id"]] = user.user_id
            outcome.body = None
            return outcome

        submits = OpenLoop(len(active), 2.0, submit, zero, zero)
        await submits.run()
        deadline = zero + args.progress_seconds
        await submits.drain(deadline)

        def finished_everywhere() -> bool:
            done = Counter(d.job_id for d in fleet.deliveries
                           if d.status in ("succeeded", "failed", "canceled"))
            return bool(accepted) and all(done.get(job, 0) >= fleet.opened_by_user.get(user, 0)
                                          for job, user in accepted.items())

        while loop.time() < deadline and not finished_everywhere():
            await asyncio.sleep(0.25)
        progress_seconds = loop.time() - zero
        sampler.end_window()
        await fleet.close(timeout=30)

    active_ids = {u.user_id for u in active}
    deliveries = [d for d in fleet.deliveries if d.user_id in active_ids]
    terminal = Counter(d.job_id for d in deliveries
                       if d.status in ("succeeded", "failed", "canceled"))
    opened = fleet.opened
    kb_per_socket = ((after - before) / 1024 / opened) if opened else None
    result = {
        "params": {key: getattr(args, key) for key in (
            "target", "sockets", "users", "active_users", "render_seconds", "open_concurrency",
            "open_seconds", "progress_seconds")},
        "sockets_per_user": per_user,
        "sockets": {"asked": len(clients), "opened": opened,
                    "connect_failures": fleet.connect_failures,
                    "open_seconds": round(open_seconds, 1),
                    "opened_per_s": round(opened / open_seconds, 1) if open_seconds else None,
                    "connect": report.latency_summary(fleet.connect_seconds),
                    "disconnects": fleet.disconnects, "close_codes": fleet.close_codes,
                    "open_when_progress_started": open_before_progress},
        "web_rss_mb": {"before": round(before / 2**20, 1), "after": round(after / 2**20, 1)},
        "kb_per_idle_socket": round(kb_per_socket, 1) if kb_per_socket is not None else None,
        "progress": {
            "jobs_submitted": len(active), "jobs_accepted": len(accepted),
            "submit_codes": dict(Counter(o.code for o in submits.outcomes)),
            "seconds": round(progress_seconds, 1),
            "deliveries": len(deliveries),
            "delivery": report.latency_summary([d.delay for d in deliveries]),
            "terminal_events_delivered": sum(terminal.values()),
            # One per open socket of the job's user.
            "terminal_events_expected": sum(fleet.opened_by_user.get(user, 0)
                                            for user in accepted.values()),
            "messages": dict(sorted(fleet.counts.items())),
        },
        "processes": sampler.report(),
        "machine_cpu": sampler.machine_report(),
        "series": {"processes": sampler.series(), "zero_s": round(sampler_zero, 2),
                   "deliveries": [(round(d.received - wall_zero, 3), round(d.delay, 4))
                                  for d in deliveries]},
    }
    result["targets"] = {
        "sockets": {"value": opened, "target": TARGETS["sockets"],
                    "met": opened >= TARGETS["sockets"]},
        "delivery_p99_ms": {"value": result["progress"]["delivery"]["p99_ms"],
                            "target": TARGETS["delivery_p99_ms"],
                            "met": (result["progress"]["delivery"]["p99_ms"] or 1e12)
                            <= TARGETS["delivery_p99_ms"]},
        "kb_per_socket": {"value": result["kb_per_idle_socket"], "target": TARGETS["kb_per_socket"],
                          "met": result["kb_per_idle_socket"] is not None
                          and result["kb_per_idle_socket"] <= TARGETS["kb_per_socket"]},
    }
    print_report(result)
    json_path = report.write_results(NAME, result, args.results_dir)
    png_path = plot(result, args)
    print(f"\nwrote {json_path}\n      {png_path}", flush=True)
    return result


def print_report(result: dict) -> None:
    sockets, progress, rss = result["sockets"], result["progress"], result["web_rss_mb"]
    delivery = progress["delivery"]
    title = f"{NAME}: {sockets['asked']} sockets, {result['sockets_per_user']} per user"
    report.print_table(title, [
        ("sockets open", f"{sockets['opened']} of {sockets['asked']}",
         f"in {sockets['open_seconds']} s ({sockets['opened_per_s']}/s); failures "
         f"{sockets['connect_failures'] or 0}; handshake p50 "
         f"{report.fmt_ms(sockets['connect']['p50_ms'])}, p99 "
         f"{report.fmt_ms(sockets['connect']['p99_ms'])}"),
        ("web RSS before → after", f"{rss['before']} → {rss['after']} MB", ""),
        ("KB per idle socket", result["kb_per_idle_socket"],
         f"target ≤ {TARGETS['kb_per_socket']}"),
        ("jobs submitted / accepted", f"{progress['jobs_submitted']} / {progress['jobs_accepted']}",
         str(progress["submit_codes"])),
        ("job.event deliveries to their users' sockets", delivery["n"],
         f"p50 {report.fmt_ms(delivery['p50_ms'])}, p99 {report.fmt_ms(delivery['p99_ms'])}, "
         f"max {report.fmt_ms(delivery['max_ms'])} (target p99 ≤ {TARGETS['delivery_p99_ms']} ms)"),
        ("sockets that saw their job finish",
         f"{progress['terminal_events_delivered']} of {progress['terminal_events_expected']}",
         f"followed for {progress['seconds']} s"),
        ("disconnects", sockets["disconnects"], str(sockets["close_codes"] or "")),
    ], ("what", "value", "note"))
    report.print_table(f"{NAME}: processes (progress phase)", report.role_rows(result["processes"]),
                       report.ROLE_HEADERS)


def plot(result: dict, args):
    figure, axes = report.new_figure(3, f"{NAME}: {result['sockets']['opened']} sockets, "
                                        f"{args.active_users} users with a job, "
                                        f"target {args.target}")
    deliveries = result["series"]["deliveries"]
    axis = axes[0]
    if deliveries:
        axis.scatter([t for t, _ in deliveries], [d for _, d in deliveries], s=2, alpha=0.4)
        axis.set_yscale("log")
    axis.axhline(TARGETS["delivery_p99_ms"] / 1000, color="tab:red", linestyle=":",
                 label="target p99")
    axis.set_title("job.event delivery (receipt − at) by receipt time")
    axis.set_xlabel("s since the first submission")
    axis.set_ylabel("s")
    axis.legend(fontsize="small")
    axis.grid(alpha=0.3)
    offset = result["series"]["zero_s"]
    report.plot_rss(axes[1], result["series"]["processes"], offset=offset,
                    title="RSS per role (sockets opened before 0)")
    report.plot_cpu(axes[2], result["series"]["processes"], offset=offset)
    return report.save_figure(figure, NAME, args.results_dir)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    async def body(target, sampler):
        await measure(target, sampler, args)

    return runner.run(NAME, args, knobs={"mode": "fast", "render_seconds": args.render_seconds,
                                         "boot_seconds": 0}, body=body)


if __name__ == "__main__":
    sys.exit(main())
