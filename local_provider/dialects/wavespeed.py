"""WaveSpeedAI API v3 dialect: submit, poll result, signed webhook on completed/failed."""

from aiohttp import web

from .. import engine as eng
from ..signing import wavespeed_headers
from ..webhooks import Outgoing
from .base import Service, answer_late, authorized, dumps, image_url, iso, json_body, json_response, service

NAME = "wavespeed"
PREFIX = "/wavespeed"
STATUS = {eng.QUEUED: "created", eng.BOOTING: "created", eng.PROCESSING: "processing",
          eng.SUCCEEDED: "completed", eng.FAILED: "failed", eng.CANCELED: "failed"}


def envelope(data, code: int = 200, message: str = "success", status: int | None = None, headers=None):
    return json_response({"code": code, "message": message, "data": data},
                         status=status if status is not None else code, headers=headers)


def error(status: int, message: str, code: int | None = None, headers=None) -> web.Response:
    return envelope(None, code=code or status, message=message, status=status, headers=headers)


def serialize(svc: Service, job: eng.Job) -> dict:
    """The flat data object: the "data" of every response and the whole webhook body."""
    done = job.state == eng.SUCCEEDED
    inference = None
    if job.terminal and job.started_at:
        inference = int((job.completed_at - job.started_at) * 1000)
    return {
        "id": job.id,
        "model": job.model,
        "status": STATUS[job.state],
        "urls": {"get": f"{job.base_url}{PREFIX}/api/v3/predictions/{job.id}/result"},
        "outputs": [svc.output_url(job)] if done else [],
        "has_nsfw_contents": [False] if done else [],
        "created_at": iso(job.created_at, 3),
        "error": job.error or "",
        "timings": {"inference": inference},
    }


def unauthorized() -> web.Response:
    return error(401, "Unauthorized: invalid or missing API key")


async def submit(request: web.Request) -> web.Response:
    svc = service(request)
    if not authorized(request, svc.settings.api_key, ("Bearer",)):
        return unauthorized()
    body = await json_body(request)
    if body is None:
        return error(400, "Invalid JSON body", code=1400)
    image = image_url(body)
    if not image:
        return error(400, "Invalid parameter: image is required", code=1401)
    webhook = request.query.get("webhook") or body.get("webhook_url") or None
    try:
        job = svc.engine.submit(NAME, model=request.match_info["model"], input=body, image_url=image,
                                base_url=svc.base_url(request), webhook=webhook)
    except eng.OverLimit as exc:
        return error(429, "Too many requests: concurrency limit reached, please retry later",
                     headers={"Retry-After": str(exc.retry_after)})
    await answer_late(svc)
    return envelope(serialize(svc, job))


async def result(request: web.Request) -> web.Response:
    svc = service(request)
    if not authorized(request, svc.settings.api_key, ("Bearer",)):
        return unauthorized()
    job = svc.engine.jobs.get(request.match_info["id"])
    if job is None or job.dialect != NAME:
        return error(404, "Prediction not found")
    svc.engine.output_available(job)
    return envelope(serialize(svc, job))


async def warmup(request: web.Request) -> web.Response:
    svc = service(request)
    if not authorized(request, svc.settings.api_key, ("Bearer",)):
        return unauthorized()
    state = svc.engine.warmup(NAME)
    return json_response({"state": state}, status=200 if state == "warm" else 202)


def on_event(svc: Service, job: eng.Job, kind: str) -> None:
    """WaveSpeed only calls back once, when the task is completed or failed."""
    if kind != "completed":
        return
    secret = svc.settings.webhook_secret

    def make() -> Outgoing:
        return Outgoing(NAME, job.webhook, dumps(serialize(svc, job)), f"{job.id}",
                        lambda msg_id, ts, body: wavespeed_headers(secret, msg_id, ts, body),
                        retry=True, terminal=True)
    svc.webhooks.push(job.id, make)


def overloaded_body() -> dict:
    return {"code": 503, "message": "Service temporarily unavailable", "data": None}


def add_routes(app: web.Application) -> None:
    app.router.add_post(f"{PREFIX}/_warmup", warmup)
    app.router.add_get(PREFIX + "/api/v3/predictions/{id}/result", result)
    app.router.add_post(PREFIX + "/api/v3/{model:.+}", submit)
