"""LocalBackend: the bundled local provider, spoken to in one vendor's dialect under its prefix."""

from __future__ import annotations

from typing import Any

from providers.backends.fal import FalBackend
from providers.backends.replicate import ReplicateBackend
from providers.backends.wavespeed import WaveSpeedBackend
from providers.base import ProviderBackend
from providers.events import ProviderEvent, Submission
from providers.exceptions import ProviderNotConfigured
from providers.http import ApiRequest

DIALECTS: dict[str, type[ProviderBackend]] = {
    "replicate": ReplicateBackend,
    "wavespeed": WaveSpeedBackend,
    "fal": FalBackend,
}


class LocalBackend(ProviderBackend):
    """Delegates to the vendor backend named by DIALECT, at BASE_URL + "/" + DIALECT."""

    default_settings = {"BASE_URL": "http://127.0.0.1:8003", "DIALECT": "replicate"}
    output_paths = ("/outputs/",)  # GET /outputs/{id}.mp4 at the root, whatever the dialect

    def __init__(self, name: str, config: dict[str, Any]) -> None:
        super().__init__(name, config)
        self.dialect = self.config["DIALECT"]
        if self.dialect not in DIALECTS:
            raise ProviderNotConfigured(
                f"settings.PROVIDERS[{name!r}]['DIALECT'] must be one of {sorted(DIALECTS)}, "
                f"not {self.dialect!r}")
        root = self.base_url
        self.backend = DIALECTS[self.dialect](name, {
            **self.config,
            "BASE_URL": f"{root}/{self.dialect}",
            "JWKS_URL": self.config.get("JWKS_URL") or f"{root}/fal/.well-known/jwks.json",
        })
        self.config = self.backend.config
        self.model = self.backend.model
        self.supports_cancel = self.backend.supports_cancel
        self.supports_lookup = self.backend.supports_lookup
        self.supports_webhooks = self.backend.supports_webhooks
        self.webhooks_report_progress = self.backend.webhooks_report_progress

    def submit(self, *, image_url: str, prompt: str, style: str, webhook_url: str | None,
               reference: str) -> Submission:
        return self.backend.submit(image_url=image_url, prompt=prompt, style=style,
                                   webhook_url=webhook_url, reference=reference)

    def fetch_status(self, provider_job_id: str) -> ProviderEvent:
        return self.backend.fetch_status(provider_job_id)

    def cancel(self, provider_job_id: str) -> bool:
        return self.backend.cancel(provider_job_id)

    def find_submission(self, reference: str) -> ProviderEvent | None:
        return self.backend.find_submission(reference)

    def warm_up(self) -> None:
        """Ask the local provider to boot its dialect's worker (a cold boot costs boot_seconds)."""
        self.backend.http.send(ApiRequest("POST", "/_warmup", json={}))

    @property
    def http(self):  # type: ignore[override]
        return self.backend.http

    @property
    def webhook_verifier(self):  # type: ignore[override]
        return self.backend.webhook_verifier

    def close(self) -> None:
        self.backend.close()

    def __repr__(self) -> str:
        return f"<LocalBackend {self.name!r} {self.dialect} {self.backend.base_url} {self.model}>"
