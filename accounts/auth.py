"""API token authentication: knox's per-device hashed tokens, without a query per call spent on
a sweep that has nothing to sweep, and with the token's query compiled once per process."""

from __future__ import annotations

import binascii
from hmac import compare_digest

from django.utils import timezone
from django.utils.translation import gettext as _
from drf_spectacular.contrib.knox_auth_token import KnoxTokenScheme
from knox import auth as knox_auth
from knox.crypto import hash_token
from knox.models import get_token_model
from knox.settings import CONSTANTS, knox_settings
from rest_framework.exceptions import AuthenticationFailed

from common.prepared import PreparedQuery

_tokens_with_key = PreparedQuery(
    lambda token_key: get_token_model().objects.filter(token_key=token_key)
    .select_related("user"),
    token_key=get_token_model()._meta.get_field("token_key"))


class TokenAuthentication(knox_auth.TokenAuthentication):
    """knox's check, minus its sweep: on every authenticated call knox loads all of the user's
    tokens to delete the expired ones. Our tokens are made without an expiry (REST_KNOX
    TOKEN_TTL None) and pruned when a user signs in past API_TOKENS_PER_USER, so the sweep is a
    query per request that finds nothing. A token that does carry an expiry is still refused
    (and deleted) once it has passed.

    The check is knox's own, with its one query prepared (common/prepared.py): building and
    compiling it was most of the CPU an authenticated API call spent on the token."""

    def authenticate_credentials(self, token):
        token = token.decode("utf-8")
        return self._match(token, _tokens_with_key(token_key=token[:CONSTANTS.TOKEN_KEY_LENGTH]))

    def authenticate_many(self, tokens: list[bytes]) -> list[tuple | None]:
        """authenticate_credentials of many tokens with one query: (user, token) for each
        that is valid, None for the others."""
        texts = []
        for token in tokens:
            try:
                texts.append(token.decode("utf-8"))
            except UnicodeDecodeError:
                texts.append(None)
        candidates: dict[str, list] = {}
        keys = {text[:CONSTANTS.TOKEN_KEY_LENGTH] for text in texts if text is not None}
        for auth_token in get_token_model().objects.filter(token_key__in=keys) \
                .select_related("user"):
            candidates.setdefault(auth_token.token_key, []).append(auth_token)
        results = []
        for text in texts:
            try:
                results.append(None if text is None else self._match(
                    text, candidates.get(text[:CONSTANTS.TOKEN_KEY_LENGTH], [])))
            except AuthenticationFailed:
                results.append(None)
        return results

    def _match(self, token: str, candidates) -> tuple:
        for auth_token in candidates:
            if self._cleanup_token(auth_token):
                continue
            try:
                digest = hash_token(token)
            except (TypeError, binascii.Error):
                raise AuthenticationFailed(_("Invalid token.")) from None
            if compare_digest(digest, auth_token.digest):
                if knox_settings.AUTO_REFRESH and auth_token.expiry:
                    self.renew_token(auth_token)
                return self.validate_user(auth_token)
        raise AuthenticationFailed(_("Invalid token."))

    def _cleanup_token(self, auth_token) -> bool:
        if auth_token.expiry is not None and auth_token.expiry < timezone.now():
            auth_token.delete()
            return True
        return False


class TokenScheme(KnoxTokenScheme):
    """The OpenAPI security scheme of the class above (drf-spectacular matches exact classes)."""

    target_class = "accounts.auth.TokenAuthentication"
