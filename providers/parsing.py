"""Helpers shared by the vendor parsers: progress from logs, boot detection, readable errors."""

from __future__ import annotations

import re
from datetime import datetime, timezone

from providers.exceptions import GENERIC_USER_MESSAGE

_TQDM = re.compile(r"(\d{1,3}(?:\.\d+)?)%\|")
_PERCENT = re.compile(r"(\d{1,3}(?:\.\d+)?)\s?%")
_BOOTING = re.compile(r"\bboot|cold[ -]?start|warming up|loading (?:the )?model|setting up",
                      re.IGNORECASE)
_MODERATION = re.compile(r"nsfw|moderat|sensitive|safety|inappropriate|content polic",
                         re.IGNORECASE)
_UNREACHABLE = re.compile(r"download|unreachable|fetch|could not (?:open|read) (?:the )?image",
                          re.IGNORECASE)
DETAIL_LIMIT = 200


def tqdm_progress(logs: str | None) -> float | None:
    """Progress 0..1 from the last tqdm bar in a log (` 42%|████  | 21/50`), else None."""
    matches = _TQDM.findall(logs or "")
    return min(1.0, float(matches[-1]) / 100) if matches else None


def percent_progress(text: str | None) -> float | None:
    """Progress 0..1 from the last percentage in free text, else None."""
    matches = _PERCENT.findall(text or "")
    return min(1.0, float(matches[-1]) / 100) if matches else None


def mentions_booting(text: str | None) -> bool:
    return bool(_BOOTING.search(text or ""))


def last_line(logs: str | None) -> str:
    """The last non-empty line of a log (tqdm redraws with \\r), trimmed for display."""
    lines = [line.strip() for line in re.split(r"[\r\n]+", logs or "") if line.strip()]
    return lines[-1][:DETAIL_LIMIT] if lines else ""


def parse_time(value: str | None) -> datetime | None:
    """An ISO-8601 timestamp as an aware datetime, or None."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def classify_failure(error: str | None) -> tuple[str, str, bool]:
    """(error_code, user message, permanent) for a provider's free-text failure reason.

    permanent means the input itself is at fault, so resubmitting it anywhere will not help.
    """
    text = error or ""
    if _MODERATION.search(text):
        return ("moderation",
                "The photo or prompt was flagged by the content filter. Please try another one.",
                True)
    if _UNREACHABLE.search(text):
        return "media_unreachable", "The provider could not download the photo.", True
    return "failed", GENERIC_USER_MESSAGE, False
