"""ProviderBackend: the template every provider follows (build request → send → parse)."""

from __future__ import annotations

import logging
import posixpath
from functools import cached_property
from typing import Any
from urllib.parse import unquote, urlsplit

from django.utils.module_loading import import_string

from providers.conf import resolve
from providers.events import ProviderEvent, Submission
from providers.exceptions import ProviderError, ProviderNotConfigured
from providers.http import ApiRequest, ApiResponse, ProviderHttp

logger = logging.getLogger(__name__)


class ProviderBackend:
    """Base class for provider backends.

    Subclasses implement build_submit_request, parse_submission, status_request, parse_status
    and, if supports_cancel, cancel_request and parse_cancel; if supports_lookup,
    find_submission; they also name their webhook_class (a dotted path to a
    providers.webhooks.base.WebhookVerifier subclass), give their BASE_URL, MODEL and
    vendor-only keys in default_settings, and may override classify_error for errors the
    vendor reports in its own way.
    """

    supports_cancel: bool = False
    # Whether find_submission can find a submission by our reference. None of the vendors we
    # support documents a way (no metadata or idempotency key; Replicate's and WaveSpeed's
    # listings show nothing of ours to match): with them the reference travels in the webhook
    # URL and comes back with the provider's webhooks.
    supports_lookup: bool = False
    supports_webhooks: bool = False
    # Whether webhooks report progress while rendering, or only the final result (then the app
    # polls for progress).
    webhooks_report_progress: bool = False
    # Paths under BASE_URL's origin where this provider serves finished videos. Results are
    # otherwise fetched only from public https hosts (the vendors' CDNs); a provider on a
    # private or plain-http host (the local provider) names its output paths here, and nothing
    # else on that host (e.g. its control API) may become a job's video.
    output_paths: tuple[str, ...] = ()
    # This backend's defaults over providers.conf.DEFAULTS: BASE_URL, MODEL, vendor-only keys.
    default_settings: dict[str, Any] = {}
    webhook_class: str = ""

    def __init__(self, name: str, config: dict[str, Any]) -> None:
        self.name = name
        self.config = resolve(config, self.default_settings)
        self.base_url = self.config["BASE_URL"]
        self.model = self.config["MODEL"]

    # --- the interface the app calls -----------------------------------------------------------

    def submit(self, *, image_url: str, prompt: str, style: str, webhook_url: str | None,
               reference: str) -> Submission:
        """Start a render; returns the provider's job id (persist it before anything else)."""
        if not (self.supports_webhooks and self.config["WEBHOOKS"]):
            webhook_url = None
        request = self.build_submit_request(image_url=image_url, prompt=prompt, style=style,
                                            webhook_url=webhook_url, reference=reference)
        response = self.http.send(request)
        submission = self.parse_submission(response)
        logger.info("%s: submitted %s as %s", self.name, reference, submission.provider_job_id)
        return submission

    def fetch_status(self, provider_job_id: str) -> ProviderEvent:
        """Poll the provider for the job's current state."""
        response = self.http.send(self.status_request(provider_job_id))
        return self.parse_status(provider_job_id, response)

    def cancel(self, provider_job_id: str) -> bool:
        """Ask the provider to stop; True if it accepted, False if already finished/unsupported."""
        if not self.supports_cancel:
            return False
        response = self.http.send(self.cancel_request(provider_job_id))
        return self.parse_cancel(provider_job_id, response)

    def find_submission(self, reference: str) -> ProviderEvent | None:
        """The state of the job submitted with our `reference`, or None if the provider has
        none: for a submission whose answer was lost (read timeout). Only if supports_lookup."""
        raise NotImplementedError(f"{type(self).__name__} must implement find_submission")

    def output_url_allowed(self, url: str) -> bool:
        """Whether `url` is one of this provider's declared output paths at its BASE_URL."""
        base, parts = urlsplit(self.base_url), urlsplit(url)
        if not self.output_paths or parts.scheme not in ("http", "https"):
            return False
        if (parts.scheme, parts.netloc.lower()) != (base.scheme, base.netloc.lower()):
            return False
        path = posixpath.normpath(unquote(parts.path))  # no /outputs/../_control
        return any(path.startswith(prefix) for prefix in self.output_paths)

    def warm_up(self) -> None:
        """Keep-warm hook, called periodically by the app; most providers need nothing."""

    # --- what subclasses implement --------------------------------------------------------------

    def auth_headers(self) -> dict[str, str]:
        key = self.config["API_KEY"]
        return {"Authorization": f"Bearer {key}"} if key else {}

    def build_submit_request(self, *, image_url: str, prompt: str, style: str,
                             webhook_url: str | None, reference: str) -> ApiRequest:
        raise NotImplementedError(f"{type(self).__name__} must implement build_submit_request")

    def parse_submission(self, response: ApiResponse) -> Submission:
        raise NotImplementedError(f"{type(self).__name__} must implement parse_submission")

    def status_request(self, provider_job_id: str) -> ApiRequest:
        raise NotImplementedError(f"{type(self).__name__} must implement status_request")

    def parse_status(self, provider_job_id: str, response: ApiResponse) -> ProviderEvent:
        raise NotImplementedError(f"{type(self).__name__} must implement parse_status")

    def cancel_request(self, provider_job_id: str) -> ApiRequest:
        raise NotImplementedError(f"{type(self).__name__} must implement cancel_request")

    def parse_cancel(self, provider_job_id: str, response: ApiResponse) -> bool:
        raise NotImplementedError(f"{type(self).__name__} must implement parse_cancel")

    def classify_error(self, response: ApiResponse) -> ProviderError | None:
        """The error for a non-success response (other than 429) that the vendor explains in
        its own way, e.g. an error code in the body; None: classify it by its HTTP status."""
        return None

    # --- shared helpers -------------------------------------------------------------------------

    @cached_property
    def http(self) -> ProviderHttp:
        if not self.base_url:
            raise ProviderNotConfigured(f"settings.PROVIDERS[{self.name!r}] needs a BASE_URL")
        return ProviderHttp(provider=self.name, base_url=self.base_url,
                            timeouts=self.config["TIMEOUTS"], headers=self.auth_headers(),
                            classify_error=self.classify_error)

    @cached_property
    def webhook_verifier(self):
        """The verifier+parser for this provider's webhooks (see providers.webhooks)."""
        if not self.webhook_class:
            raise ProviderNotConfigured(f"{type(self).__name__} does not receive webhooks")
        return import_string(self.webhook_class)(name=self.name, config=self.config)

    def model_input(self, *, image_field: str, image_url: str, prompt: str,
                    style: str) -> dict[str, Any]:
        """The model's inputs: the photo, the prompt with the style folded in, and INPUT extras."""
        return {**self.config["INPUT"], image_field: image_url,
                "prompt": compose_prompt(prompt=prompt, style=style)}

    def close(self) -> None:
        if "http" in self.__dict__:
            self.http.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.base_url} {self.model}>"


def compose_prompt(*, prompt: str, style: str) -> str:
    """Video models take one prompt: the style becomes a trailing phrase of it."""
    prompt, style = prompt.strip(), style.strip()
    if not style:
        return prompt
    if not prompt:
        return f"{style} style"
    return f"{prompt.rstrip('.')}, {style} style"
