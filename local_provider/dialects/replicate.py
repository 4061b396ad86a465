"""Replicate HTTP API v1 dialect: predictions, cancel, webhook secret, Standard Webhooks events."""

import asyncio
import hashlib
import re

from aiohttp import web

from .. import engine as eng
from ..signing import standard_webhook_headers
from ..webhooks import Outgoing
from .base import Service, answer_late, authorized, dumps, image_url, iso, json_body, json_response, service

NAME = "replicate"
PREFIX = "/replicate"
SCHEMES = ("Bearer", "Token")  # "Token" is Replicate's legacy scheme, still accepted there
DEFAULT_MODEL = "local-provider/cyberpunk-hero"
EVENTS = frozenset({"start", "output", "logs", "completed"})
THROTTLED = frozenset({"output", "logs"})
STATUS = {eng.QUEUED: "starting", eng.BOOTING: "starting", eng.PROCESSING: "processing",
          eng.SUCCEEDED: "succeeded", eng.FAILED: "failed", eng.CANCELED: "canceled"}


def problem(status: int, detail: str, title: str | None = None, headers=None, **extra) -> web.Response:
    body = {"detail": detail, "status": status, **({"title": title} if title else {}), **extra}
    return json_response(body, status=status, headers=headers)


def _version_hash(model: str) -> str:
    return hashlib.sha256(f"local-provider:{model}".encode()).hexdigest()


def _model_and_version(version: str) -> tuple[str, str]:
    """The version field may be a version id, "owner/name" or "owner/name:version"."""
    if ":" in version:
        model, _, pinned = version.partition(":")
        return model, pinned
    if "/" in version:
        return version, _version_hash(version)
    return DEFAULT_MODEL, version


def serialize(svc: Service, job: eng.Job) -> dict:
    """The prediction object: responses, and the body of every webhook."""
    available = svc.engine.output_available(job)
    metrics = {}
    if job.terminal:
        metrics["total_time"] = round(job.completed_at - job.created_at, 3)
        if job.started_at:
            metrics["predict_time"] = round(job.completed_at - job.started_at, 3)
    base = f"{job.base_url}{PREFIX}/v1/predictions/{job.id}"
    return {
        "id": job.id,
        "model": job.model,
        "version": job.extra["version"],
        "input": job.input,
        "logs": "".join(line.message + "\n" for line in job.logs),
        "output": svc.output_url(job) if available else None,
        "data_removed": job.data_removed,
        "error": job.error,
        "status": STATUS[job.state],
        "source": "api",
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "completed_at": iso(job.completed_at),
        "metrics": metrics,
        "urls": {"get": base, "cancel": base + "/cancel", "web": f"{job.base_url}{PREFIX}/p/{job.id}"},
    }


def _auth_failed(request: web.Request) -> web.Response | None:
    if authorized(request, service(request).settings.api_key, SCHEMES):
        return None
    return problem(401, "You did not pass a valid authentication token", "Unauthenticated")


def _parse_duration(text: str) -> float | None:
    """Cancel-After values such as 90s, 5m, 1h30m."""
    parts = re.fullmatch(r"\s*(?:(\d+)h)?\s*(?:(\d+)m)?\s*(?:(\d+(?:\.\d+)?)s)?\s*", text or "")
    if not parts or not any(parts.groups()):
        return None
    hours, minutes, seconds = parts.groups()
    return int(hours or 0) * 3600 + int(minutes or 0) * 60 + float(seconds or 0)


async def create(request: web.Request) -> web.Response:
    if (denied := _auth_failed(request)) is not None:
        return denied
    svc = service(request)
    body = await json_body(request)
    if body is None:
        return problem(400, "The request body is not valid JSON", "Bad request")
    payload = body.get("input")
    if not isinstance(payload, dict):
        return problem(422, "- input: Invalid type. Expected: object", "Input validation failed",
                       invalid_fields=[{"type": "invalid_type", "field": "input", "description": "Expected object"}])
    image = image_url(payload)
    if not image:
        return problem(422, "- input: image is required", "Input validation failed",
                       invalid_fields=[{"type": "required", "field": "input.image",
                                        "description": "image is required"}])
    if "owner" in request.match_info:
        model = f"{request.match_info['owner']}/{request.match_info['name']}"
        version = _version_hash(model)
    else:
        version = str(body.get("version") or "")
        if not version:
            return problem(422, "- version: version is required", "Input validation failed")
        model, version = _model_and_version(version)
    events = body.get("webhook_events_filter")
    if events is not None and (not isinstance(events, list) or not set(events) <= EVENTS):
        return problem(422, "- webhook_events_filter: must be a subset of start, output, logs, completed",
                       "Input validation failed")
    try:
        job = svc.engine.submit(NAME, model=model, input=payload, image_url=image, base_url=svc.base_url(request),
                                webhook=body.get("webhook") or None,
                                events_filter=frozenset(events) if events is not None else EVENTS,
                                extra={"version": version, "webhook_seq": 0})
    except eng.OverLimit as exc:
        return json_response({"detail": f"Request was throttled. Your rate limit resets in ~{exc.retry_after}s."},
                             status=429, headers={"Retry-After": str(exc.retry_after)})
    cancel_after = _parse_duration(request.headers.get("Cancel-After", ""))
    if cancel_after is not None:
        svc.engine.cancel_after(job, cancel_after)
    wait = re.fullmatch(r"\s*wait(?:=(\d+))?\s*", request.headers.get("Prefer", ""))
    if wait:
        try:
            await asyncio.wait_for(job.done.wait(), timeout=min(60, int(wait.group(1) or 60)))
        except asyncio.TimeoutError:
            pass
    await answer_late(svc)
    location = f"{job.base_url}{PREFIX}/v1/predictions/{job.id}"
    return json_response(serialize(svc, job), status=201, headers={"Location": location})


def _lookup(request: web.Request) -> eng.Job | None:
    job = service(request).engine.jobs.get(request.match_info["id"])
    return job if job is not None and job.dialect == NAME else None


async def get(request: web.Request) -> web.Response:
    if (denied := _auth_failed(request)) is not None:
        return denied
    job = _lookup(request)
    if job is None:
        return problem(404, "Not found.")
    return json_response(serialize(service(request), job))


async def cancel(request: web.Request) -> web.Response:
    if (denied := _auth_failed(request)) is not None:
        return denied
    job = _lookup(request)
    if job is None:
        return problem(404, "Not found.")
    service(request).engine.cancel(job)
    return json_response(serialize(service(request), job))


async def webhook_secret(request: web.Request) -> web.Response:
    if (denied := _auth_failed(request)) is not None:
        return denied
    return json_response({"key": service(request).settings.webhook_secret})


async def warmup(request: web.Request) -> web.Response:
    if (denied := _auth_failed(request)) is not None:
        return denied
    state = service(request).engine.warmup(NAME)
    return json_response({"state": state}, status=200 if state == "warm" else 202)


def on_event(svc: Service, job: eng.Job, kind: str) -> None:
    """Every event kind the client subscribed to; output/logs are throttled, only completed is retried."""
    if kind not in job.events_filter:
        return
    secret = svc.settings.webhook_secret

    def make() -> Outgoing:
        job.extra["webhook_seq"] += 1
        msg_id = f"msg_{job.id}_{job.extra['webhook_seq']}"
        return Outgoing(NAME, job.webhook, dumps(serialize(svc, job)), msg_id,
                        lambda mid, ts, body: standard_webhook_headers(secret, mid, ts, body),
                        retry=kind == "completed", terminal=kind == "completed")
    svc.webhooks.push(job.id, make, throttle=kind in THROTTLED, is_live=lambda: not job.terminal)


def overloaded_body() -> dict:
    return {"detail": "Service Unavailable", "status": 503}


def add_routes(app: web.Application) -> None:
    app.router.add_post(f"{PREFIX}/_warmup", warmup)
    app.router.add_post(f"{PREFIX}/v1/predictions", create)
    app.router.add_post(PREFIX + "/v1/models/{owner}/{name}/predictions", create)
    app.router.add_get(PREFIX + "/v1/predictions/{id}", get)
    app.router.add_post(PREFIX + "/v1/predictions/{id}/cancel", cancel)
    app.router.add_get(f"{PREFIX}/v1/webhooks/default/secret", webhook_secret)
