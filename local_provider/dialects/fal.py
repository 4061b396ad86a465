"""fal.ai queue API dialect: submit, status with logs, result, cancel, Ed25519-signed webhooks, JWKS."""

import os
import re

from aiohttp import web

from .. import engine as eng
from ..webhooks import Outgoing
from .base import Service, answer_late, authorized, dumps, image_url, iso, json_body, json_response, service

NAME = "fal"
PREFIX = "/fal"
# Model ids contain slashes, so one catch-all route is split by its suffix.
REQUEST_PATH = re.compile(r"(?P<model>.+?)/requests/(?P<id>[^/]+)(?P<action>/status|/cancel)?/?")


def app_id(model_id: str) -> str:
    """Queue URLs use only owner/app, without the endpoint path (as fal's own URLs do)."""
    return "/".join(model_id.split("/")[:2])


def _urls(job: eng.Job) -> dict:
    base = f"{job.base_url}{PREFIX}/{app_id(job.model)}/requests/{job.id}"
    return {"response_url": base, "status_url": base + "/status", "cancel_url": base + "/cancel"}


def _status(job: eng.Job) -> str:
    if job.state == eng.QUEUED:
        return "IN_QUEUE"
    return "COMPLETED" if job.terminal else "IN_PROGRESS"


def _logs(job: eng.Job) -> list:
    return [{"message": line.message, "level": line.level, "source": "user", "timestamp": iso(line.timestamp)}
            for line in job.logs]


def _error_text(job: eng.Job) -> str | None:
    if job.state == eng.CANCELED:
        return "Request was cancelled"
    return job.error if job.state == eng.FAILED else None


def result_payload(svc: Service, job: eng.Job) -> dict:
    path = svc.engine.studio.output_path(job.id)
    size = os.path.getsize(path) if os.path.exists(path) else None
    return {"video": {"url": svc.output_url(job), "content_type": "video/mp4", "file_name": f"{job.id}.mp4",
                      "file_size": size}, "seed": job.render_seed}


def status_body(svc: Service, job: eng.Job, with_logs: bool) -> dict:
    status = _status(job)
    body = {"status": status, "request_id": job.id, **_urls(job)}
    if status == "IN_QUEUE":
        body["queue_position"] = svc.engine.queue_position(job)
    else:
        body["logs"] = _logs(job) if with_logs else None
    if status == "COMPLETED":
        inference = (job.completed_at - job.started_at) if job.started_at else 0.0
        body["metrics"] = {"inference_time": round(inference, 3)}
        if (error := _error_text(job)) is not None:
            body["error"], body["error_type"] = error, job.error_code or "request_cancelled"
    return body


def _detail(status: int, detail, headers=None) -> web.Response:
    return json_response({"detail": detail}, status=status, headers=headers)


async def submit(request: web.Request, model_id: str) -> web.Response:
    svc = service(request)
    body = await json_body(request)
    if body is None:
        return _detail(422, [{"loc": ["body"], "msg": "Invalid JSON body", "type": "value_error.jsondecode"}])
    image = image_url(body)
    if not image:
        return _detail(422, [{"loc": ["body", "image_url"], "msg": "field required", "type": "value_error.missing"}])
    try:
        job = svc.engine.submit(NAME, model=model_id, input=body, image_url=image, base_url=svc.base_url(request),
                                webhook=request.query.get("fal_webhook") or None)
    except eng.OverLimit as exc:
        return _detail(429, "Concurrency limit exceeded, please retry later",
                       headers={"Retry-After": str(exc.retry_after)})
    job.extra["gateway_request_id"] = job.id
    await answer_late(svc)
    return json_response({"status": "IN_QUEUE", "request_id": job.id, **_urls(job),
                          "gateway_request_id": job.id, "queue_position": svc.engine.queue_position(job)})


async def dispatch(request: web.Request) -> web.Response:
    """Catch-all under /fal/: submit on POST, else status/result/cancel by path suffix."""
    svc = service(request)
    if not authorized(request, svc.settings.api_key, ("Key",)):
        return _detail(401, "Authentication is required to access this application.")
    tail = request.match_info["tail"]
    match = REQUEST_PATH.fullmatch(tail)
    if match is None:
        if request.method == "POST":
            return await submit(request, tail.strip("/"))
        return _detail(405 if request.method in ("GET", "PUT") else 404, "Not found")
    job = svc.engine.jobs.get(match["id"])
    if job is None or job.dialect != NAME:
        if match["action"] == "/cancel":
            return json_response({"status": "NOT_FOUND"}, status=404)
        return _detail(404, "Request not found")
    action, method = match["action"], request.method
    if action == "/status" and method == "GET":
        return json_response(status_body(svc, job, request.query.get("logs") in ("1", "true")))
    if action == "/cancel" and method == "PUT":
        if svc.engine.cancel(job):
            return json_response({"status": "CANCELLATION_REQUESTED"}, status=202)
        return json_response({"status": "ALREADY_COMPLETED"}, status=400)
    if action is None and method == "GET":
        return result(svc, job)
    return _detail(405, "Method not allowed")


def result(svc: Service, job: eng.Job) -> web.Response:
    if not job.terminal:
        return _detail(400, "Request is still in progress")
    if job.state == eng.SUCCEEDED:
        svc.engine.output_available(job)
        return json_response(result_payload(svc, job))
    if job.state == eng.CANCELED:
        return _detail(400, "Request was cancelled")
    return _detail(500, job.error)


async def jwks(request: web.Request) -> web.Response:
    return json_response(service(request).fal_signer.jwks())


async def warmup(request: web.Request) -> web.Response:
    svc = service(request)
    if not authorized(request, svc.settings.api_key, ("Key",)):
        return _detail(401, "Authentication is required to access this application.")
    state = svc.engine.warmup(NAME)
    return json_response({"state": state}, status=200 if state == "warm" else 202)


def on_event(svc: Service, job: eng.Job, kind: str) -> None:
    """fal calls back once per request, when it is done (including cancelled ones)."""
    if kind != "completed":
        return

    def make() -> Outgoing:
        ok = job.state == eng.SUCCEEDED
        body = {"request_id": job.id, "gateway_request_id": job.extra.get("gateway_request_id", job.id),
                "status": "OK" if ok else "ERROR",
                "payload": result_payload(svc, job) if ok else {"detail": _error_text(job)}}
        if not ok:
            body["error"] = _error_text(job)
        return Outgoing(NAME, job.webhook, dumps(body), job.id,
                        lambda msg_id, ts, raw: svc.fal_signer.headers(msg_id, ts, raw),
                        retry=True, terminal=True)
    svc.webhooks.push(job.id, make)


def overloaded_body() -> dict:
    return {"detail": "Service Unavailable"}


def add_routes(app: web.Application) -> None:
    app.router.add_get(f"{PREFIX}/.well-known/jwks.json", jwks)
    app.router.add_post(f"{PREFIX}/_warmup", warmup)
    app.router.add_route("*", PREFIX + "/{tail:.+}", dispatch)
