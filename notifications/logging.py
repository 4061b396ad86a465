"""Logging filters for the real-time layer."""

from __future__ import annotations

import logging


class DroppedMessagesAreWarnings(logging.Filter):
    """channels-redis logs messages it dropped over capacity at INFO: raise them to WARNING."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "over capacity" in str(record.msg):
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True
