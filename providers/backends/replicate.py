"""Replicate (HTTP API v1): predictions, Standard Webhooks, progress parsed from tqdm logs."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from providers.base import ProviderBackend
from providers.events import ProviderEvent, Submission, stable_event_id
from providers.exceptions import TransientError
from providers.http import ApiRequest, ApiResponse
from providers.parsing import (
    classify_failure,
    last_line,
    mentions_booting,
    parse_time,
    tqdm_progress,
)

WEBHOOK_EVENTS = ["start", "output", "logs", "completed"]
_VERSION_ID = re.compile(r"^[0-9a-f]{64}$")
EXPIRED_MESSAGE = "The video expired at the provider before it could be saved."


def first_url(output: Any) -> str | None:
    """Replicate's output is a URL, a list of URLs, or (some models) a dict of them."""
    if isinstance(output, str):
        return output or None
    if isinstance(output, list):
        return next((url for url in map(first_url, output) if url), None)
    if isinstance(output, dict):
        return next((url for url in map(first_url, output.values()) if url), None)
    return None


def prediction_event(name: str, prediction: dict, *, event_id: str | None = None,
                     warming_after: float = 5.0, now: datetime | None = None) -> ProviderEvent:
    """Normalize a Replicate prediction object (poll response or webhook body)."""
    if not isinstance(prediction, dict) or not prediction.get("id"):
        raise ValueError("not a Replicate prediction: no id")
    status = prediction.get("status")
    logs = prediction.get("logs") or ""
    fields: dict[str, Any] = {"detail": last_line(logs)}
    if status == "starting":
        created = parse_time(prediction.get("created_at"))
        now = now or datetime.now(timezone.utc)
        slow = created is not None and (now - created).total_seconds() > warming_after
        fields["status"] = "warming" if slow or mentions_booting(logs) else "queued"
    elif status == "processing":
        fields.update(status="rendering", progress=tqdm_progress(logs))
    elif status == "succeeded":
        url = first_url(prediction.get("output"))
        if url:
            fields.update(status="succeeded", output_url=url, progress=1.0)
        else:  # the output was deleted (data_removed) or never produced
            removed = prediction.get("data_removed")
            fields.update(status="failed", permanent_error=False,
                          error_code="output_expired" if removed else "no_output",
                          error_message=EXPIRED_MESSAGE if removed else
                          "The provider finished without a video. Please try again.")
    elif status in ("failed", "aborted"):
        error = prediction.get("error")
        error_text = error if isinstance(error, str) else (str(error) if error else "")
        code, message, permanent = classify_failure(error_text)
        fields.update(status="failed", error_code=code if status == "failed" else "aborted",
                      error_message=message, permanent_error=permanent,
                      detail=(error_text or fields["detail"])[:200])
    elif status == "canceled":
        fields["status"] = "canceled"
    else:
        raise ValueError(f"unknown Replicate status {status!r}")
    job_id = str(prediction["id"])
    event_id = event_id or stable_event_id(name, job_id, fields["status"], fields.get("progress"),
                                           fields.get("output_url"), fields["detail"])
    return ProviderEvent(provider=name, provider_job_id=job_id, event_id=event_id, raw=prediction,
                         **fields)


class ReplicateBackend(ProviderBackend):
    """Replicate predictions: create, poll, cancel; webhooks signed per Standard Webhooks."""

    supports_cancel = True
    supports_webhooks = True
    webhooks_report_progress = True
    default_settings = {
        "BASE_URL": "https://api.replicate.com",
        "WARMING_AFTER_SECONDS": 5.0,  # `starting` longer than this is a cold boot
        "CANCEL_AFTER": "",  # Cancel-After header, e.g. "10m" (caps spend on stuck jobs)
    }
    webhook_class = "providers.webhooks.replicate.ReplicateWebhook"

    def build_submit_request(self, *, image_url: str, prompt: str, style: str,
                             webhook_url: str | None, reference: str) -> ApiRequest:
        body: dict[str, Any] = {"input": self.model_input(image_field="image", image_url=image_url,
                                                          prompt=prompt, style=style)}
        if webhook_url:
            body.update(webhook=webhook_url, webhook_events_filter=WEBHOOK_EVENTS)
        headers = {"Cancel-After": self.config["CANCEL_AFTER"]} if self.config["CANCEL_AFTER"] \
            else {}
        owner_name, _, version = self.model.partition(":")
        if _VERSION_ID.match(owner_name):  # a bare version id
            body["version"] = owner_name
            return ApiRequest("POST", "/v1/predictions", json=body, headers=headers)
        if version:
            body["version"] = version
            return ApiRequest("POST", "/v1/predictions", json=body, headers=headers)
        return ApiRequest("POST", f"/v1/models/{owner_name}/predictions", json=body,
                          headers=headers)

    def parse_submission(self, response: ApiResponse) -> Submission:
        event = self._event(response)
        return Submission(provider_job_id=event.provider_job_id, event=event)

    def status_request(self, provider_job_id: str) -> ApiRequest:
        return ApiRequest("GET", f"/v1/predictions/{provider_job_id}")

    def parse_status(self, provider_job_id: str, response: ApiResponse) -> ProviderEvent:
        return self._event(response)

    def cancel_request(self, provider_job_id: str) -> ApiRequest:
        return ApiRequest("POST", f"/v1/predictions/{provider_job_id}/cancel")

    def parse_cancel(self, provider_job_id: str, response: ApiResponse) -> bool:
        # Replicate answers 200 with the prediction; a finished one keeps its final status.
        data = response.data if isinstance(response.data, dict) else {}
        return data.get("status") not in ("succeeded", "failed", "aborted")

    def _event(self, response: ApiResponse) -> ProviderEvent:
        try:
            return prediction_event(self.name, response.data,
                                    warming_after=self.config["WARMING_AFTER_SECONDS"])
        except ValueError as error:
            raise TransientError(f"{self.name}: unexpected prediction: {error}",
                                 provider=self.name, maybe_processed=True) from error
