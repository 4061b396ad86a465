"""The one exception that services raise for the API to turn into a 4xx."""

from __future__ import annotations


class ApplicationError(Exception):
    """A refusal the user can act on: `message` says what to fix, `extra` holds details."""

    status_code = 400

    def __init__(self, message: str, *, extra: dict | None = None, status_code: int | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.message = message
        self.extra = extra or {}
        if status_code is not None:
            self.status_code = status_code
        self.headers = headers or {}
