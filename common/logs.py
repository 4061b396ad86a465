"""Log lines: JSON in production, readable in development; context fields; secrets redacted.

Context (request_id on web lines; job_id, provider and user_id on lines about a job) lives in a
contextvar set with `log_context(...)`, and ContextFilter copies it onto every record. Both
formatters redact their finished line, tracebacks included: signed URLs lose their query
string, credentials after Authorization-like words and `key=` pairs are replaced, and so is
any secret configured in settings (SECRET_KEY, API keys, webhook secrets, passwords).
"""

from __future__ import annotations

import contextvars
import functools
import logging
import re
from contextlib import contextmanager
from datetime import datetime, timezone

from django.conf import settings
from django.core.signals import setting_changed
from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter as _JsonFormatter

CONTEXT_FIELDS = ("request_id", "job_id", "provider", "user_id")
REDACTED = "[redacted]"

_context: contextvars.ContextVar[dict] = contextvars.ContextVar("surge_log_context", default={})


@contextmanager
def log_context(**fields):
    """Add fields (None values skipped) to every log line written inside the block."""
    merged = {**_context.get(), **{name: str(value) for name, value in fields.items()
                                   if value is not None and value != ""}}
    token = _context.set(merged)
    try:
        yield merged
    finally:
        _context.reset(token)


def current_log_context() -> dict:
    return dict(_context.get())


class ContextFilter(logging.Filter):
    """Copies the log context onto each record; fields passed with `extra=` win."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in _context.get().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        if not hasattr(record, "request_id"):  # django.request logs 4xx after the middleware
            request_id = getattr(getattr(record, "request", None), "request_id", None)
            if request_id:
                record.request_id = request_id
        return True


# Names whose value is a credential (Authorization headers, repr of dicts, env dumps).
_SENSITIVE = (r"(?:[\w-]*(?:secret|password|passwd|token|signature|credential|authorization|"
              r"sessionid)[\w-]*|[\w-]*(?:api|access|private|secret)[_-]?key)")
_PATTERNS = [
    # A URL query string carrying a signature or credential (S3 presigned URLs and the like).
    (re.compile(r"(https?://[^\s\"'?<>\\]+)\?([^\s\"'<>\\]*?(?:X-Amz-|Signature|signature|"
                r"token|Token|sig=|key=|Key=|Credential|Policy)[^\s\"'<>\\]*)"),
     rf"\1?{REDACTED}"),
    # Authorization schemes: "Bearer abc", "Token abc", "Basic abc".
    (re.compile(r"\b(Bearer|Token|Basic)\s+[A-Za-z0-9._~+/=:-]{6,}"), rf"\1 {REDACTED}"),
    # name=value, name: value, 'name': 'value' (also JSON-escaped) where the name says secret.
    (re.compile(rf"(?i)(\b{_SENSITIVE}[\\\"']*\s*[:=]\s*[\\\"']*)(?!{re.escape(REDACTED)})"
                r"[^\s\"'\\&,;}]{4,}"), rf"\1{REDACTED}"),
    # Well-known secret shapes: webhook secrets, Replicate tokens.
    (re.compile(r"\b(whsec_|r8_)[A-Za-z0-9+/=_-]{6,}"), rf"\1{REDACTED}"),
]
# Setting names (and nested keys, as in PROVIDERS) whose string values are secrets.
_SECRET_NAME = re.compile(
    r"(SECRET|SECRET_KEY|SECRET_ACCESS_KEY|PASSWORD|API_KEY|TOKEN|PRIVATE_KEY)(_FALLBACKS)?$",
    re.IGNORECASE)
MIN_SECRET_LENGTH = 8


def _secret_values(value, *, named: bool) -> set[str]:
    if isinstance(value, str):
        return {value} if named and len(value) >= MIN_SECRET_LENGTH else set()
    if isinstance(value, dict):
        return set().union(*(_secret_values(item, named=named or bool(_SECRET_NAME.search(str(key))))
                             for key, item in value.items()))
    if isinstance(value, (list, tuple)):
        return set().union(*(_secret_values(item, named=named) for item in value))
    return set()


@functools.lru_cache(maxsize=1)
def configured_secrets() -> tuple[str, ...]:
    """Every secret value in settings, longest first (so a secret inside another goes too)."""
    if not settings.configured:
        return ()
    found = set()
    for name in dir(settings):
        if name.isupper():
            found |= _secret_values(getattr(settings, name, None),
                                    named=bool(_SECRET_NAME.search(name)))
    return tuple(sorted(found, key=len, reverse=True))


def _forget_secrets(**kwargs) -> None:
    configured_secrets.cache_clear()


setting_changed.connect(_forget_secrets)


def redact(text: str) -> str:
    """The text without signed URL query strings, credentials or configured secrets."""
    for secret in configured_secrets():
        if secret in text:
            text = text.replace(secret, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class PlainFormatter(logging.Formatter):
    """Readable lines for development: `LEVEL logger: message [job_id=… provider=…]`."""

    def __init__(self, fmt: str = "%(levelname)s %(name)s: %(message)s", **kwargs):
        super().__init__(fmt, **kwargs)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        context = " ".join(f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS
                           if getattr(record, name, None))
        if context:
            first, newline, rest = line.partition("\n")
            line = f"{first} [{context}]{newline}{rest}"
        return redact(line)


class JsonFormatter(_JsonFormatter):
    """One JSON object per line: timestamp (UTC, ms), level, logger, message, context, extras."""

    def __init__(self, *args, **kwargs):
        # The request object and uvicorn's ANSI-coloured copy of the message stay out.
        kwargs.setdefault("reserved_attrs", [*RESERVED_ATTRS, "request", "server_time",
                                             "color_message"])
        super().__init__("%(levelname)s %(name)s %(message)s", *args,
                         rename_fields={"levelname": "level", "name": "logger"}, **kwargs)

    def add_fields(self, log_data: dict, record: logging.LogRecord, message_dict: dict) -> None:
        super().add_fields(log_data, record, message_dict)
        log_data["time"] = datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(
            timespec="milliseconds").replace("+00:00", "Z")
        request = getattr(record, "request", None)
        if request is not None and hasattr(request, "path"):  # django.request: no query string
            log_data.setdefault("method", getattr(request, "method", None))
            log_data.setdefault("path", request.path)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))
