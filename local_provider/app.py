"""The aiohttp application: dialect routes, outage injection, /_control, /_health and /outputs."""

import asyncio
import dataclasses
import logging

from aiohttp import web

from .config import KnobError, Settings
from .dialects import fal, replicate, wavespeed
from .dialects.base import SERVICE_KEY, Service, json_body, json_response
from .engine import SUCCEEDED, Engine
from .webhooks import WebhookDispatcher

log = logging.getLogger("local_provider")

DIALECTS = {"wavespeed": wavespeed, "replicate": replicate, "fal": fal}
ACTIONS = ("reset_counters", "reset_knobs", "unload_models")
INITIAL_KNOBS = web.AppKey("initial_knobs", object)
# The JWKS lives on a different host at fal (rest.alpha.fal.ai), so a queue outage does not hide it.
OUTAGE_EXEMPT = {"/fal/.well-known/jwks.json"}


@web.middleware
async def outage_middleware(request: web.Request, handler):
    """Every dialect endpoint answers 503, or hangs until the client gives up, while an outage is on."""
    dialect = DIALECTS.get(request.path.split("/")[1])
    if dialect is None or request.path in OUTAGE_EXEMPT:
        return await handler(request)
    knobs = request.app[SERVICE_KEY].engine.knobs
    if knobs.outage == "hang":
        # Never process a hung request later: a client that timed out must not get a ghost job.
        while knobs.outage == "hang" and request.transport is not None and not request.transport.is_closing():
            await asyncio.sleep(0.05)
        return json_response(dialect.overloaded_body(), status=503)
    if knobs.outage == "503":
        return json_response(dialect.overloaded_body(), status=503)
    return await handler(request)


async def health(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


def control_state(svc: Service) -> dict:
    engine = svc.engine
    return {
        "knobs": engine.knobs.as_dict(),
        "counters": engine.counters.snapshot(engine.queued()),
        "models": engine.model_states(),
        "jobs": len(engine.jobs),
    }


async def control_get(request: web.Request) -> web.Response:
    return json_response(control_state(request.app[SERVICE_KEY]))


async def control_post(request: web.Request) -> web.Response:
    """Update any subset of knobs (all or nothing), and run the reset/unload actions."""
    svc = request.app[SERVICE_KEY]
    engine = svc.engine
    body = await json_body(request)
    if body is None:
        return json_response({"error": "body must be a JSON object"}, status=400)
    actions = {name: bool(body.pop(name)) for name in ACTIONS if name in body}
    seed_given, old_seed = "seed" in body, engine.knobs.seed
    if actions.get("reset_knobs"):
        # Knobs not mentioned go back to their startup values; the ones given are applied on top.
        body = {**dataclasses.asdict(request.app[INITIAL_KNOBS]), **body}
    try:
        engine.knobs.update(body)
    except KnobError as exc:
        return json_response({"error": str(exc)}, status=400)
    if seed_given or engine.knobs.seed != old_seed:
        engine.reseed(engine.knobs.seed)  # an explicit seed always restarts the random sequence
    if engine.knobs.mode == "fast":
        engine.studio.fast_clip()
    engine.pump_all()  # a higher max_concurrency admits queued jobs at once
    if actions.get("unload_models"):
        engine.unload_models()
    if actions.get("reset_counters"):
        engine.counters.reset({name: pool.in_flight for name, pool in engine.pools.items()})
    return json_response(control_state(svc))


async def output(request: web.Request) -> web.StreamResponse:
    """The provider's CDN: range-capable file responses until the output expires (410 afterwards)."""
    engine = request.app[SERVICE_KEY].engine
    name = request.match_info["name"]
    job = engine.jobs.get(name[: -len(".mp4")]) if name.endswith(".mp4") else None
    if job is None or job.state != SUCCEEDED:
        return json_response({"detail": "Not found"}, status=404)
    if not engine.output_available(job):
        return json_response({"detail": "This output has expired and was deleted"}, status=410)
    return web.FileResponse(engine.studio.output_path(job.id), headers={"Content-Type": "video/mp4"})


def create_app(settings: Settings) -> web.Application:
    """Build the application; jobs and sessions start with it and stop with it."""
    app = web.Application(middlewares=[outage_middleware], client_max_size=25 * 1024 * 1024)
    engine = Engine(settings.knobs, settings.state_dir, settings.render_workers)
    webhooks = WebhookDispatcher(settings.knobs, engine.rng, engine.counters, engine.spawn)
    svc = Service(settings, engine, webhooks)
    app[SERVICE_KEY] = svc
    app[INITIAL_KNOBS] = dataclasses.replace(settings.knobs)

    def on_event(job, kind: str) -> None:
        if job.webhook:
            DIALECTS[job.dialect].on_event(svc, job, kind)
    engine.listener = on_event

    async def lifecycle(app: web.Application):
        await engine.start()
        await webhooks.start()
        yield
        await engine.close()
        await webhooks.close()

    async def stop_background(app: web.Application) -> None:
        # On shutdown, not cleanup: run_app waits for pending tasks before cleanup runs.
        await engine.close()
    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(stop_background)

    app.router.add_get("/_health", health)
    app.router.add_get("/_control", control_get)
    app.router.add_post("/_control", control_post)
    app.router.add_get("/outputs/{name}", output)
    for module in DIALECTS.values():
        module.add_routes(app)
    return app
