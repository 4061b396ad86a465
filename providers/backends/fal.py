"""fal.ai queue API: submit to the queue, poll status with logs, fetch the result when done."""

from __future__ import annotations

from typing import Any

from providers.base import ProviderBackend
from providers.events import ProviderEvent, Submission, stable_event_id
from providers.exceptions import PermanentError, TransientError
from providers.http import ApiRequest, ApiResponse
from providers.parsing import DETAIL_LIMIT, classify_failure, mentions_booting, percent_progress

DEFAULT_JWKS_URL = "https://rest.alpha.fal.ai/.well-known/jwks.json"


def video_url(result: Any) -> str | None:
    """The video URL in a fal result: {"video": {"url"}} (or {"video": url}, {"videos": [...]})."""
    if not isinstance(result, dict):
        return None
    video = result.get("video")
    if isinstance(video, dict) and isinstance(video.get("url"), str):
        return video["url"]
    if isinstance(video, str):
        return video
    videos = result.get("videos")
    if isinstance(videos, list) and videos:
        return video_url({"video": videos[0]})
    return result.get("url") if isinstance(result.get("url"), str) else None


def app_id(model: str) -> str:
    """Request URLs name only owner/app: "fal-ai/wan/v2.2/i2v" → "fal-ai/wan" (as fal_client)."""
    return "/".join(model.strip("/").split("/")[:2])


def is_cancellation(error: Any, error_type: Any = None) -> bool:
    """fal reports a cancelled request as COMPLETED/ERROR with a cancellation error."""
    return error_type == "request_cancelled" or (
        isinstance(error, str) and error.lower().startswith("request was cancel"))


def _log_messages(data: dict) -> list[str]:
    logs = data.get("logs") or []
    return [str(entry.get("message", "")) for entry in logs if isinstance(entry, dict)]


def status_event(name: str, provider_job_id: str, data: dict) -> ProviderEvent:
    """Normalize a fal status object (IN_QUEUE / IN_PROGRESS); COMPLETED needs the result."""
    status = data.get("status") if isinstance(data, dict) else None
    messages = _log_messages(data) if isinstance(data, dict) else []
    detail = next((m.strip() for m in reversed(messages) if m.strip()), "")[:DETAIL_LIMIT]
    fields: dict[str, Any] = {"detail": detail}
    if status == "IN_QUEUE":
        fields["status"] = "warming" if any(map(mentions_booting, messages)) else "queued"
        if data.get("queue_position") is not None and not detail:
            fields["detail"] = f"queue position {data['queue_position']}"
    elif status == "IN_PROGRESS":
        progress = next((p for p in map(percent_progress, reversed(messages)) if p is not None),
                        None)
        # A cold boot can run inside IN_PROGRESS: until frames flow, the latest log tells.
        booting = progress is None and bool(messages) and mentions_booting(messages[-1])
        fields.update(status="warming" if booting else "rendering", progress=progress)
    else:
        raise ValueError(f"unexpected fal status {status!r}")
    event_id = stable_event_id(name, provider_job_id, fields["status"], fields.get("progress"),
                               fields["detail"])
    return ProviderEvent(provider=name, provider_job_id=provider_job_id, event_id=event_id,
                         raw=data, **fields)


def result_event(name: str, provider_job_id: str, result: Any, *,
                 event_id: str | None = None) -> ProviderEvent:
    """A finished fal request: succeeded with the video URL, or failed if there is none."""
    url = video_url(result)
    fields: dict[str, Any]
    if url:
        fields = {"status": "succeeded", "output_url": url, "progress": 1.0}
    else:
        fields = {"status": "failed", "error_code": "no_output", "permanent_error": False,
                  "error_message": "The provider finished without a video. Please try again."}
    event_id = event_id or stable_event_id(name, provider_job_id, fields["status"], url)
    return ProviderEvent(provider=name, provider_job_id=provider_job_id, event_id=event_id,
                         raw=result if isinstance(result, dict) else {"result": result}, **fields)


def error_text(error: Any, payload: Any = None) -> str:
    """One readable line from fal's `error` and a FastAPI-style payload `detail`."""
    parts = [error if isinstance(error, str) else str(error or "")]
    detail = payload.get("detail") if isinstance(payload, dict) else None
    if isinstance(detail, list):
        parts += [str(item.get("msg", item)) if isinstance(item, dict) else str(item)
                  for item in detail]
    elif detail:
        parts.append(str(detail))
    return ": ".join(part for part in parts if part)


def error_event(name: str, provider_job_id: str, error: Any, raw: dict, *,
                event_id: str | None = None) -> ProviderEvent:
    """A failed (or cancelled) fal request, with the error made user-readable."""
    text = error if isinstance(error, str) else str(error or "")
    if is_cancellation(text, raw.get("error_type")):
        event_id = event_id or stable_event_id(name, provider_job_id, "canceled")
        return ProviderEvent(provider=name, provider_job_id=provider_job_id, event_id=event_id,
                             status="canceled", detail=text[:DETAIL_LIMIT], raw=raw)
    code, message, permanent = classify_failure(text)
    event_id = event_id or stable_event_id(name, provider_job_id, "failed", text)
    return ProviderEvent(provider=name, provider_job_id=provider_job_id, event_id=event_id,
                         status="failed", error_code=code, error_message=message,
                         permanent_error=permanent, detail=text[:DETAIL_LIMIT], raw=raw)


class FalBackend(ProviderBackend):
    """fal.ai queue: Key auth, ?fal_webhook=, status → result, PUT cancel."""

    supports_cancel = True
    supports_webhooks = True
    default_settings = {
        "BASE_URL": "https://queue.fal.run",
        "MODEL": "fal-ai/wan-i2v",
        "JWKS_URL": DEFAULT_JWKS_URL,
        "JWKS_CACHE_SECONDS": 24 * 3600,  # fal says: cache at most 24 h
    }
    webhook_class = "providers.webhooks.fal.FalWebhook"

    def auth_headers(self) -> dict[str, str]:
        key = self.config["API_KEY"]
        return {"Authorization": f"Key {key}"} if key else {}

    def build_submit_request(self, *, image_url: str, prompt: str, style: str,
                             webhook_url: str | None, reference: str) -> ApiRequest:
        # The webhook goes in the query string: inside the input the model would just ignore it.
        body = self.model_input(image_field="image_url", image_url=image_url, prompt=prompt,
                                style=style)
        params = {"fal_webhook": webhook_url} if webhook_url else None
        return ApiRequest("POST", f"/{self.model}", json=body, params=params)

    def parse_submission(self, response: ApiResponse) -> Submission:
        data = response.data if isinstance(response.data, dict) else {}
        request_id = data.get("request_id")
        if not request_id:
            raise TransientError(f"{self.name}: submit response without request_id: "
                                 f"{data!r:.200}", provider=self.name, maybe_processed=True)
        try:
            event = status_event(self.name, str(request_id),
                                 {"status": "IN_QUEUE", **data} if "status" not in data else data)
        except ValueError:
            event = None
        return Submission(provider_job_id=str(request_id), event=event)

    def status_request(self, provider_job_id: str) -> ApiRequest:
        return ApiRequest("GET", f"/{app_id(self.model)}/requests/{provider_job_id}/status",
                          params={"logs": "1"})

    def result_request(self, provider_job_id: str) -> ApiRequest:
        return ApiRequest("GET", f"/{app_id(self.model)}/requests/{provider_job_id}")

    def fetch_status(self, provider_job_id: str) -> ProviderEvent:
        data = self.http.send(self.status_request(provider_job_id)).data or {}
        if data.get("status") != "COMPLETED":
            return self.parse_status(provider_job_id, ApiResponse(200, data, {}))
        if data.get("error"):
            return error_event(self.name, provider_job_id, data["error"], data)
        try:
            result = self.http.send(self.result_request(provider_job_id)).data
        except PermanentError as error:
            if error.code in ("auth", "not_found"):
                raise
            # fal answers the result of a failed request with a 4xx carrying the model's error.
            return error_event(self.name, provider_job_id, error.message, data)
        return result_event(self.name, provider_job_id, result)

    def parse_status(self, provider_job_id: str, response: ApiResponse) -> ProviderEvent:
        try:
            return status_event(self.name, provider_job_id, response.data)
        except ValueError as error:
            raise TransientError(f"{self.name}: {error}", provider=self.name) from error

    def cancel_request(self, provider_job_id: str) -> ApiRequest:
        return ApiRequest("PUT", f"/{app_id(self.model)}/requests/{provider_job_id}/cancel",
                          ok_statuses=(400,))

    def parse_cancel(self, provider_job_id: str, response: ApiResponse) -> bool:
        status = (response.data or {}).get("status") if isinstance(response.data, dict) else None
        if response.status_code == 400 and status != "ALREADY_COMPLETED":
            raise PermanentError(f"{self.name}: cancel refused: {response.data!r:.200}",
                                 code="bad_request", provider=self.name, status_code=400)
        return response.status_code < 300 and status != "ALREADY_COMPLETED"
