"""Helpers the three dialects share: auth, JSON bodies, timestamps, the service handle."""

import asyncio
import hmac
import json
from datetime import datetime, timezone

from aiohttp import web

from ..config import Settings
from ..engine import Engine
from ..signing import FalSigner
from ..webhooks import WebhookDispatcher

SERVICE_KEY = web.AppKey("service", object)


class Service:
    """Everything a dialect handler needs, stored on the aiohttp app."""

    def __init__(self, settings: Settings, engine: Engine, webhooks: WebhookDispatcher):
        self.settings = settings
        self.engine = engine
        self.webhooks = webhooks
        self.fal_signer = FalSigner(settings.webhook_secret)

    def base_url(self, request: web.Request) -> str:
        """Absolute URLs in responses point back at us, as the client reached us (or --public-url)."""
        return (self.settings.public_url or f"{request.scheme}://{request.host}").rstrip("/")

    def output_url(self, job) -> str:
        return f"{job.base_url}/outputs/{job.id}.mp4"


async def answer_late(svc: Service) -> None:
    """The submit_answer_delay_seconds fault: the job already runs, its answer is held back."""
    if svc.engine.knobs.submit_answer_delay_seconds:
        await asyncio.sleep(svc.engine.knobs.submit_answer_delay_seconds)


def service(request: web.Request) -> Service:
    return request.app[SERVICE_KEY]


def authorized(request: web.Request, api_key: str, schemes: tuple[str, ...]) -> bool:
    """Constant-time check of 'Authorization: <scheme> <key>' for any of the accepted schemes."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() not in {s.lower() for s in schemes}:
        return False
    return hmac.compare_digest(token.strip().encode(), api_key.encode())


async def json_body(request: web.Request):
    """Parsed JSON object body, {} when empty, or None when it is not a JSON object."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def image_url(data: dict) -> str | None:
    """Every dialect accepts both common field names for the source image."""
    value = data.get("image") or data.get("image_url")
    return value if isinstance(value, str) and value else None


def iso(ts: float | None, digits: int = 6) -> str | None:
    """RFC 3339 UTC with a Z suffix, as the providers print timestamps."""
    if ts is None:
        return None
    text = datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
    return text[: len(text) - (6 - digits)] + "Z" if digits < 6 else text + "Z"


def dumps(data) -> bytes:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()


def json_response(data, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(body=dumps(data), status=status, headers=headers, content_type="application/json")
