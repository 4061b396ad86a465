"""FakeBackend: an in-process provider for the app's unit tests, like Django's locmem email.

    from providers.backends import fake
    fake.FakeBackend.script(RateLimited("slow down", retry_after=3))   # next submit raises
    fake.FakeBackend.script(fake.AnswerLost())   # next submit is taken, but its answer is lost
    submission = backend.submit(...)            # recorded in fake.outbox
    fake.set_status(submission.provider_job_id, "succeeded", output_url="http://…/v.mp4")
    backend.fetch_status(submission.provider_job_id)                    # → that event
    headers, body = fake.webhook_request(event, secret="whsec_…")      # for the webhook view
    fake.reset()                                                       # between tests
"""

from __future__ import annotations

import itertools
import json
import threading
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any, Mapping

from standardwebhooks.webhooks import Webhook

from providers.base import ProviderBackend
from providers.events import ProviderEvent, Submission, stable_event_id
from providers.exceptions import PermanentError, TransientError
from providers.webhooks.replicate import StandardWebhookVerifier


@dataclass(frozen=True)
class FakeSubmission:
    """One recorded submit call."""

    provider: str
    provider_job_id: str
    image_url: str
    prompt: str
    style: str
    webhook_url: str | None
    reference: str


outbox: list[FakeSubmission] = []
statuses: dict[str, ProviderEvent] = {}
canceled: list[str] = []
warm_ups: list[str] = []
_scripts: list[tuple[str, str | None, Any]] = []  # (operation, provider name or None, outcome)
_lock = threading.Lock()
_counter = itertools.count(1)


class AnswerLost(TransientError):
    """A scripted submit outcome: the provider takes the job, but its answer never arrives."""

    def __init__(self) -> None:
        super().__init__("fake: read timed out", provider="fake", maybe_processed=True)


def reset() -> None:
    """Empty the outbox, the job states and the scripted outcomes."""
    with _lock:
        outbox.clear()
        statuses.clear()
        canceled.clear()
        warm_ups.clear()
        _scripts.clear()


def build_event(provider_job_id: str, status: str, *, provider: str = "fake",
                progress: float | None = None, output_url: str | None = None,
                error_code: str | None = None, error_message: str | None = None,
                permanent_error: bool = False, detail: str = "",
                event_id: str | None = None) -> ProviderEvent:
    """A ProviderEvent with a stable event_id unless one is given."""
    event_id = event_id or stable_event_id(provider, provider_job_id, status, progress,
                                           output_url, error_code, detail)
    return ProviderEvent(provider=provider, provider_job_id=provider_job_id, event_id=event_id,
                         status=status, progress=progress, output_url=output_url,
                         error_code=error_code, error_message=error_message,
                         permanent_error=permanent_error, detail=detail)


def set_status(provider_job_id: str, status: str, **fields: Any) -> ProviderEvent:
    """Move a fake job to a new state; fetch_status returns it from now on."""
    with _lock:
        previous = statuses.get(provider_job_id)
        provider = fields.pop("provider", previous.provider if previous else "fake")
        event = build_event(provider_job_id, status, provider=provider, **fields)
        statuses[provider_job_id] = event
    return event


def _next_scripted(operation: str, provider: str) -> Any:
    with _lock:
        for index, (op, name, outcome) in enumerate(_scripts):
            if op == operation and name in (None, provider):
                del _scripts[index]
                return outcome
    return None


def webhook_request(event: ProviderEvent, *, secret: str, msg_id: str | None = None,
                    timestamp: int | None = None) -> tuple[dict[str, str], bytes]:
    """(headers, body) of a fake webhook carrying `event`, signed Standard-Webhooks style."""
    body = json.dumps({key: value for key, value in asdict(event).items()
                       if key not in ("raw", "provider")}).encode()
    msg_id = msg_id or f"msg_{uuid.uuid4().hex}"
    timestamp = int(time.time()) if timestamp is None else timestamp
    signature = Webhook(secret).sign(msg_id, datetime.fromtimestamp(timestamp, tz=timezone.utc),
                                     body.decode())
    return ({"webhook-id": msg_id, "webhook-timestamp": str(timestamp),
             "webhook-signature": signature}, body)


class FakeWebhook(StandardWebhookVerifier):
    """Accepts what webhook_request signs: a JSON-serialized ProviderEvent."""

    def parse_events(self, *, headers: Mapping[str, str], data: Any) -> list[ProviderEvent]:
        data = dict(data)
        data["event_id"] = data.get("event_id") or headers["webhook-id"]
        return [ProviderEvent(provider=self.name, raw=data, **data)]


class FakeBackend(ProviderBackend):
    """Records submissions in the module outbox; returns scripted or recorded outcomes.

    Settings: OUTPUT_URL — when set, a fetch_status of a job still `queued` answers
    `succeeded` with it, so end-to-end flows complete without scripting each job; LOOKUP
    (default True) — whether find_submission finds submissions by their reference.
    """

    supports_cancel = True
    supports_webhooks = True
    webhooks_report_progress = True
    default_settings = {"BASE_URL": "http://fake.invalid", "MODEL": "fake/model",
                        "OUTPUT_URL": ""}
    webhook_class = "providers.backends.fake.FakeWebhook"

    def __init__(self, name: str, config: dict[str, Any]) -> None:
        super().__init__(name, config)
        self.supports_lookup = bool(self.config.get("LOOKUP", True))

    @classmethod
    def script(cls, *outcomes: Any, operation: str = "submit",
               provider: str | None = None) -> None:
        """Queue outcomes for the next calls of `operation` ("submit", "fetch_status", "cancel",
        "warm_up", "find_submission"), optionally only for one provider name. An exception outcome is raised; a
        ProviderEvent is returned by fetch_status/used as the submit's initial event; a bool is
        cancel's answer; None means "behave normally"."""
        with _lock:
            _scripts.extend((operation, provider, outcome) for outcome in outcomes)

    def _scripted(self, operation: str) -> Any:
        outcome = _next_scripted(operation, self.name)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def submit(self, *, image_url: str, prompt: str, style: str, webhook_url: str | None,
               reference: str) -> Submission:
        scripted = _next_scripted("submit", self.name)
        if isinstance(scripted, BaseException) and not isinstance(scripted, AnswerLost):
            raise scripted
        job_id = f"fake-{next(_counter)}-{uuid.uuid4().hex[:8]}"
        if isinstance(scripted, ProviderEvent):
            event = build_event(job_id, scripted.status, provider=self.name,
                                progress=scripted.progress, output_url=scripted.output_url,
                                error_code=scripted.error_code,
                                error_message=scripted.error_message,
                                permanent_error=scripted.permanent_error, detail=scripted.detail)
        else:
            event = build_event(job_id, "queued", provider=self.name)
        webhook_url = webhook_url if self.config["WEBHOOKS"] else None
        with _lock:
            outbox.append(FakeSubmission(self.name, job_id, image_url, prompt, style,
                                         webhook_url, reference))
            statuses[job_id] = event
        if isinstance(scripted, AnswerLost):
            raise scripted
        return Submission(provider_job_id=job_id, event=event)

    def find_submission(self, reference: str) -> ProviderEvent | None:
        if not self.supports_lookup:
            return super().find_submission(reference)
        self._scripted("find_submission")
        with _lock:
            sent = [item for item in outbox if item.provider == self.name
                    and item.reference == reference]
            return statuses.get(sent[-1].provider_job_id) if sent else None

    def fetch_status(self, provider_job_id: str) -> ProviderEvent:
        scripted = self._scripted("fetch_status")
        if isinstance(scripted, ProviderEvent):
            return scripted
        with _lock:
            event = statuses.get(provider_job_id)
        if event is None:
            raise PermanentError(f"{self.name}: no fake job {provider_job_id!r}",
                                 code="not_found", provider=self.name, status_code=404)
        if event.status == "queued" and self.config.get("OUTPUT_URL"):
            event = set_status(provider_job_id, "succeeded", output_url=self.config["OUTPUT_URL"],
                               progress=1.0)
        return event

    def cancel(self, provider_job_id: str) -> bool:
        scripted = self._scripted("cancel")
        if isinstance(scripted, bool):
            return scripted
        with _lock:
            event = statuses.get(provider_job_id)
        if event is None or event.is_terminal:
            return False
        set_status(provider_job_id, "canceled")
        canceled.append(provider_job_id)
        return True

    def warm_up(self) -> None:
        self._scripted("warm_up")
        warm_ups.append(self.name)
