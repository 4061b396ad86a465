"""Reads about users: who an API token belongs to."""

from __future__ import annotations

from knox.models import AuthToken
from rest_framework.exceptions import AuthenticationFailed

from accounts.auth import TokenAuthentication
from accounts.models import User


def token_user(*, key: str) -> tuple[User, AuthToken] | None:
    """The active user an API token belongs to, and the token; None for anything else. The
    same check as the API's (knox: the stored hash, the user's `is_active`)."""
    try:
        return TokenAuthentication().authenticate_credentials(key.encode())
    except (AuthenticationFailed, UnicodeError):
        return None
