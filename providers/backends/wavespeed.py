"""WaveSpeedAI (API v3): enveloped predictions, result polling, completion-only webhooks."""

from __future__ import annotations

from typing import Any

from providers.base import ProviderBackend
from providers.events import ProviderEvent, Submission, stable_event_id
from providers.exceptions import (
    GENERIC_USER_MESSAGE,
    UNAVAILABLE_MESSAGE,
    PermanentError,
    ProviderError,
    TransientError,
)
from providers.http import ApiRequest, ApiResponse
from providers.parsing import classify_failure

STATUS_MAP = {"created": "queued", "processing": "rendering", "completed": "succeeded",
              "failed": "failed"}

# WaveSpeed puts its error codes in the JSON envelope's `code`: (kind, error code, user message).
WAVESPEED_CODES: dict[int, tuple[str, str, str]] = {
    1200: ("permanent", "moderation",
           "The photo or prompt was flagged by the content filter. Please try another one."),
    1400: ("permanent", "bad_parameter", "The request was rejected as invalid."),
    1401: ("permanent", "bad_parameter", "The request was rejected as invalid."),
    1402: ("permanent", "media_unreachable", "The provider could not download the photo."),
    1403: ("permanent", "task_failed", GENERIC_USER_MESSAGE),
    1405: ("permanent", "task_failed", GENERIC_USER_MESSAGE),
    5000: ("transient", "server_error", UNAVAILABLE_MESSAGE),
    5003: ("transient", "server_error", UNAVAILABLE_MESSAGE),
    5004: ("transient", "timeout", UNAVAILABLE_MESSAGE),
}


def envelope_error(code: Any, message: str, *, provider: str,
                   status_code: int | None = None) -> ProviderError | None:
    """The exception for a WaveSpeed envelope `code`, or None for success/unknown codes."""
    if code == 200 or code not in WAVESPEED_CODES:
        return None
    kind, error_code, user_message = WAVESPEED_CODES[code]
    text = f"{provider}: code {code}: {message}"
    if kind == "transient":
        return TransientError(text, provider=provider, status_code=status_code)
    return PermanentError(text, code=error_code, user_message=user_message,
                          provider=provider, status_code=status_code)


def prediction_event(name: str, data: dict, *, event_id: str | None = None,
                     envelope_code: int | None = None) -> ProviderEvent:
    """Normalize a WaveSpeed prediction data object (the envelope's `data`, or a webhook body)."""
    if not isinstance(data, dict) or not data.get("id"):
        raise ValueError("not a WaveSpeed prediction: no id")
    raw_status = data.get("status")
    if raw_status not in STATUS_MAP:
        raise ValueError(f"unknown WaveSpeed status {raw_status!r}")
    fields: dict[str, Any] = {"status": STATUS_MAP[raw_status]}
    if raw_status == "completed":
        outputs = data.get("outputs") or []
        url = next((url for url in outputs if isinstance(url, str) and url), None)
        if url:
            fields.update(output_url=url, progress=1.0)
        else:
            fields.update(status="failed", error_code="no_output", permanent_error=False,
                          error_message="The provider finished without a video. "
                                        "Please try again.")
    elif raw_status == "failed":
        error = str(data.get("error") or "")
        if envelope_code in WAVESPEED_CODES:
            kind, code, message = WAVESPEED_CODES[envelope_code]
            permanent = kind == "permanent" and code != "task_failed"
        else:
            code, message, permanent = classify_failure(error)
        fields.update(error_code=code, error_message=message, permanent_error=permanent,
                      detail=error[:200])
    job_id = str(data["id"])
    event_id = event_id or stable_event_id(name, job_id, fields["status"],
                                           fields.get("output_url"), fields.get("detail"))
    return ProviderEvent(provider=name, provider_job_id=job_id, event_id=event_id, raw=data,
                         **fields)


class WaveSpeedBackend(ProviderBackend):
    """WaveSpeedAI v3 tasks: no cancel endpoint; webhooks only on completed/failed."""

    supports_cancel = False
    supports_webhooks = True
    default_settings = {
        "BASE_URL": "https://api.wavespeed.ai",
        "MODEL": "wavespeed-ai/wan-2.2/i2v-480p",
        "WEBHOOK_IN_BODY": False,  # also send body `webhook_url` (documented ambiguously)
    }
    webhook_class = "providers.webhooks.wavespeed.WaveSpeedWebhook"

    def build_submit_request(self, *, image_url: str, prompt: str, style: str,
                             webhook_url: str | None, reference: str) -> ApiRequest:
        body = self.model_input(image_field="image", image_url=image_url, prompt=prompt,
                                style=style)
        params = {"webhook": webhook_url} if webhook_url else None
        if webhook_url and self.config["WEBHOOK_IN_BODY"]:
            body["webhook_url"] = webhook_url
        return ApiRequest("POST", f"/api/v3/{self.model}", json=body, params=params)

    def parse_submission(self, response: ApiResponse) -> Submission:
        event = self._event(response)
        return Submission(provider_job_id=event.provider_job_id, event=event)

    def status_request(self, provider_job_id: str) -> ApiRequest:
        return ApiRequest("GET", f"/api/v3/predictions/{provider_job_id}/result")

    def parse_status(self, provider_job_id: str, response: ApiResponse) -> ProviderEvent:
        return self._event(response)

    def classify_error(self, response: ApiResponse) -> ProviderError | None:
        """The envelope's `code` decides, whatever the HTTP status."""
        envelope = response.data if isinstance(response.data, dict) else {}
        if not isinstance(envelope.get("code"), int):
            return None
        return envelope_error(envelope["code"], str(envelope.get("message") or ""),
                              provider=self.name, status_code=response.status_code)

    def _event(self, response: ApiResponse) -> ProviderEvent:
        envelope = response.data if isinstance(response.data, dict) else {}
        code = envelope.get("code", 200)
        data = envelope.get("data")
        has_task = isinstance(data, dict) and data.get("id") and data.get("status")
        if code != 200 and not has_task:  # an error envelope on HTTP 200
            error = envelope_error(code, str(envelope.get("message") or ""), provider=self.name,
                                   status_code=response.status_code)
            raise error or TransientError(f"{self.name}: unknown code {code}: {envelope!r:.200}",
                                          provider=self.name, maybe_processed=True)
        try:
            return prediction_event(self.name, data, envelope_code=code if code != 200 else None)
        except ValueError as error:
            raise TransientError(f"{self.name}: unexpected response: {error}",
                                 provider=self.name, maybe_processed=True) from error
