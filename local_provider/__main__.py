"""Command line: python -m local_provider --port PORT [--time-scale 0.01] [--seed 1] [...]."""

import argparse
import logging
import os
import sys

from aiohttp import web

from .config import PARSERS, KnobError, settings_from_env

KNOB_HELP = {
    "max_concurrency": "jobs in flight per dialect (default 10)",
    "over_limit": "reject (429) or queue when over max_concurrency (default reject)",
    "render_seconds": "minimum render phase wall time in s (default 3 x time_scale)",
    "boot_seconds": "cold boot duration in s (default 40 x time_scale)",
    "idle_unload_seconds": "idle time before the model unloads, in s (default 300 x time_scale)",
    "failure_rate": "probability 0-1 that a job fails (default 0)",
    "outage": "off, 503 or hang (default off)",
    "submit_answer_delay_seconds": "a submission runs at once but is answered this much later (default 0)",
    "webhook_drop": "probability 0-1 that a webhook is never sent (default 0)",
    "webhook_duplicate": "probability 0-1 that a webhook is sent twice (default 0)",
    "webhook_reorder": "true/false or probability 0-1 that a webhook is overtaken (default 0)",
    "webhook_delay_seconds": "delay before each webhook delivery (default 0)",
    "webhook_timeout_seconds": "webhook delivery timeout (default 15)",
    "webhook_max_retries": "retries of a failed retryable webhook (default 5)",
    "output_ttl_seconds": "seconds before outputs expire with 410 (default 3600)",
    "mode": "render (real encode) or fast (serve a cached clip) (default render)",
    "time_scale": "scales nominal boot/idle/render times and webhook backoff (default 1.0)",
    "seed": "seed of the one random generator, for deterministic runs (default: random)",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m local_provider", description=__doc__)
    parser.add_argument("--host", help="bind address (default 127.0.0.1, env LOCAL_PROVIDER_HOST)")
    parser.add_argument("--port", type=int, help="port (default 8089, env LOCAL_PROVIDER_PORT)")
    parser.add_argument("--state-dir", help="outputs and cached clips (default var/local_provider)")
    parser.add_argument("--api-key", help="accepted API key (env LOCAL_PROVIDER_API_KEY)")
    parser.add_argument("--webhook-secret", help="whsec_ secret (env LOCAL_PROVIDER_WEBHOOK_SECRET)")
    parser.add_argument("--public-url", help="base of URLs in responses (default: as requested)")
    parser.add_argument("--render-workers", type=int, help="render process pool size (default 2)")
    parser.add_argument("--access-log", action="store_true", help="log every request")
    for name in PARSERS:
        parser.add_argument("--" + name.replace("_", "-"), dest=name, help=KNOB_HELP[name])
    return parser


def main(argv=None) -> None:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = settings_from_env()
        settings.knobs.update({name: getattr(args, name) for name in PARSERS if getattr(args, name) is not None})
    except (KnobError, ValueError) as exc:
        sys.exit(f"local_provider: {exc}")
    for name in ("host", "port", "state_dir", "api_key", "webhook_secret", "public_url", "render_workers"):
        if getattr(args, name) is not None:
            setattr(settings, name, getattr(args, name))
    settings.state_dir = os.path.abspath(settings.state_dir)
    from .app import create_app  # imported late so --help stays instant
    app = create_app(settings)
    web.run_app(app, host=settings.host, port=settings.port, handler_cancellation=True,
                access_log=logging.getLogger("aiohttp.access") if args.access_log else None,
                shutdown_timeout=2.0,
                print=lambda _msg: print(f"local_provider listening on http://{settings.host}:{settings.port}",
                                         flush=True))


if __name__ == "__main__":
    main()
