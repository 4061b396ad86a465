"""The misbehaviour knobs: defaults, parsing from env/CLI/JSON, and the effective (time-scaled) values."""

import base64
import dataclasses
import math
import os
from dataclasses import dataclass, field

ENV_PREFIX = "LOCAL_PROVIDER_"
DEFAULT_API_KEY = "local-dev-key"
# A fixed dev secret: "whsec_" + base64 of 32 fixed bytes, so Standard Webhooks verifiers accept it.
DEFAULT_WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"surge-local-provider-dev-secret!").decode()
NOMINAL_BOOT_SECONDS = 40.0
NOMINAL_IDLE_UNLOAD_SECONDS = 300.0
NOMINAL_RENDER_SECONDS = 3.0


class KnobError(ValueError):
    """A knob name or value was rejected."""


def _bool_or_rate(value) -> float:
    """webhook_reorder accepts a bool (always/never) or a probability."""
    if isinstance(value, str):
        low = value.strip().lower()
        if low in ("true", "yes", "on"):
            return 1.0
        if low in ("false", "no", "off", ""):
            return 0.0
    return _rate(value)


def _rate(value) -> float:
    rate = float(value)
    if not 0.0 <= rate <= 1.0:
        raise KnobError(f"must be between 0 and 1, got {value!r}")
    return rate


def _seconds(value) -> float:
    secs = float(value)
    if secs < 0 or math.isnan(secs):
        raise KnobError(f"must be >= 0, got {value!r}")
    return secs


def _optional_seconds(value):
    """None (or "auto") means: derive from the nominal value times time_scale."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "auto", "none")):
        return None
    return _seconds(value)


def _positive_int(value) -> int:
    number = int(value)
    if number < 1:
        raise KnobError(f"must be >= 1, got {value!r}")
    return number


def _choice(*choices):
    def parse(value) -> str:
        text = str(value).strip().lower()
        if text not in choices:
            raise KnobError(f"must be one of {', '.join(choices)}, got {value!r}")
        return text
    return parse


def _optional_int(value):
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none")):
        return None
    return int(value)


def _non_negative_int(value) -> int:
    number = int(value)
    if number < 0:
        raise KnobError(f"must be >= 0, got {value!r}")
    return number


def _time_scale(value) -> float:
    scale = float(value)
    if not scale > 0:
        raise KnobError(f"must be > 0, got {value!r}")
    return scale


def _outage(value) -> str:
    return _choice("off", "503", "hang")("off" if value in (None, False) else value)


PARSERS = {
    "max_concurrency": _positive_int,
    "over_limit": _choice("reject", "queue"),
    "render_seconds": _optional_seconds,
    "boot_seconds": _optional_seconds,
    "idle_unload_seconds": _optional_seconds,
    "failure_rate": _rate,
    "outage": _outage,
    "submit_answer_delay_seconds": _seconds,
    "webhook_drop": _rate,
    "webhook_duplicate": _rate,
    "webhook_reorder": _bool_or_rate,
    "webhook_delay_seconds": _seconds,
    "webhook_timeout_seconds": _seconds,
    "webhook_max_retries": _non_negative_int,
    "output_ttl_seconds": _seconds,
    "mode": _choice("render", "fast"),
    "time_scale": _time_scale,
    "seed": _optional_int,
}


@dataclass
class Knobs:
    """Every tunable behaviour; all of them can be changed at run time through POST /_control."""

    max_concurrency: int = 10
    over_limit: str = "reject"
    render_seconds: float | None = None
    boot_seconds: float | None = None
    idle_unload_seconds: float | None = None
    failure_rate: float = 0.0
    outage: str = "off"
    submit_answer_delay_seconds: float = 0.0
    webhook_drop: float = 0.0
    webhook_duplicate: float = 0.0
    webhook_reorder: float = 0.0
    webhook_delay_seconds: float = 0.0
    webhook_timeout_seconds: float = 15.0
    webhook_max_retries: int = 5
    output_ttl_seconds: float = 3600.0
    mode: str = "render"
    time_scale: float = 1.0
    seed: int | None = None

    def update(self, changes: dict) -> dict:
        """Validate every change first, then apply them all (all or nothing); returns parsed values."""
        unknown = sorted(set(changes) - set(PARSERS))
        if unknown:
            raise KnobError(f"unknown knob(s): {', '.join(unknown)}")
        parsed = {}
        for name, value in changes.items():
            try:
                parsed[name] = PARSERS[name](value)
            except (TypeError, ValueError) as exc:
                raise KnobError(f"{name}: {exc}") from None
        for name, value in parsed.items():
            setattr(self, name, value)
        return parsed

    # Durations the simulation uses. Explicit values are real seconds; unset ones are the
    # real provider's nominal duration shrunk by time_scale, so one flag speeds up a whole test run.
    @property
    def effective_boot_seconds(self) -> float:
        return self.boot_seconds if self.boot_seconds is not None else NOMINAL_BOOT_SECONDS * self.time_scale

    @property
    def effective_idle_unload_seconds(self) -> float:
        if self.idle_unload_seconds is not None:
            return self.idle_unload_seconds
        return NOMINAL_IDLE_UNLOAD_SECONDS * self.time_scale

    @property
    def effective_render_seconds(self) -> float:
        if self.render_seconds is not None:
            return self.render_seconds
        return NOMINAL_RENDER_SECONDS * self.time_scale

    def as_dict(self) -> dict:
        """Knobs as JSON, with the time-derived ones resolved to what is in force now."""
        data = dataclasses.asdict(self)
        data["render_seconds"] = self.effective_render_seconds
        data["boot_seconds"] = self.effective_boot_seconds
        data["idle_unload_seconds"] = self.effective_idle_unload_seconds
        return data


@dataclass
class Settings:
    """Process-level settings fixed at startup (not knobs)."""

    host: str = "127.0.0.1"
    port: int = 8089
    state_dir: str = "var/local_provider"
    api_key: str = DEFAULT_API_KEY
    webhook_secret: str = DEFAULT_WEBHOOK_SECRET
    public_url: str | None = None
    render_workers: int = 2
    knobs: Knobs = field(default_factory=Knobs)


def knobs_from_env(environ=None) -> dict:
    """Collect LOCAL_PROVIDER_<KNOB> variables (e.g. LOCAL_PROVIDER_FAILURE_RATE=0.2)."""
    environ = os.environ if environ is None else environ
    return {name: environ[ENV_PREFIX + name.upper()] for name in PARSERS if ENV_PREFIX + name.upper() in environ}


def settings_from_env(environ=None) -> Settings:
    """Settings with every value the environment provides; the CLI overrides these afterwards."""
    environ = os.environ if environ is None else environ
    settings = Settings()
    settings.api_key = environ.get(ENV_PREFIX + "API_KEY", settings.api_key)
    settings.webhook_secret = environ.get(ENV_PREFIX + "WEBHOOK_SECRET", settings.webhook_secret)
    settings.public_url = environ.get(ENV_PREFIX + "PUBLIC_URL") or None
    settings.state_dir = environ.get(ENV_PREFIX + "STATE_DIR", settings.state_dir)
    settings.host = environ.get(ENV_PREFIX + "HOST", settings.host)
    settings.port = int(environ.get(ENV_PREFIX + "PORT", settings.port))
    settings.render_workers = int(environ.get(ENV_PREFIX + "RENDER_WORKERS", settings.render_workers))
    settings.knobs.update(knobs_from_env(environ))
    return settings
