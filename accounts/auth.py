"""API token authentication: knox's per-device hashed tokens, without a query per call spent on
a sweep that has nothing to sweep."""

from __future__ import annotations

from django.utils import timezone
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox import auth as knox_auth


class TokenAuthentication(knox_auth.TokenAuthentication):
    """knox's check, minus its sweep: on every authenticated call knox loads all of the user's
    tokens to delete the expired ones. Our tokens are made without an expiry (REST_KNOX
    TOKEN_TTL None) and pruned when a user signs in past API_TOKENS_PER_USER, so the sweep is a
    query per request that finds nothing. A token that does carry an expiry is still refused
    (and deleted) once it has passed."""

    def _cleanup_token(self, auth_token) -> bool:
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False


class TokenScheme(KnoxTokenScheme):
    """The OpenAPI security scheme of the class above (drf-spectacular matches exact classes)."""

    target_class = "accounts.auth.TokenAuthentication"
