"""Every write about users: sign-up, sign-in with throttling, API tokens, preferences."""

from __future__ import annotations

import hashlib
import logging

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils.module_loading import import_string
from knox.models import AuthToken

from accounts.models import User
from common.exceptions import ApplicationError

logger = logging.getLogger(__name__)


def user_create(*, email: str, password: str) -> User:
    """Create a user, saying exactly what is wrong with the email or password."""
    email = User.objects.normalize_email((email or "").strip()).lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ApplicationError("Enter a valid email address.",
                               extra={"email": ["Enter a valid email address."]}) from None
    if User.objects.filter(email__iexact=email).exists():
        raise ApplicationError("An account with this email already exists.",
                               extra={"email": ["An account with this email already exists."]})
    try:
        password_validation.validate_password(password, user=User(email=email))
    except ValidationError as error:
        raise ApplicationError(f"Choose a stronger password: {error.messages[0]}",
                               extra={"password": list(error.messages)}) from None
    try:
        with transaction.atomic():
            return User.objects.create_user(email=email, password=password)
    except IntegrityError:  # a concurrent sign-up with the same email won the race
        raise ApplicationError("An account with this email already exists.",
                               extra={"email": ["An account with this email already exists."]}
                               ) from None


def _failure_key(email: str, ip: str) -> str:
    digest = hashlib.sha256(f"{(email or '').strip().lower()}|{ip}".encode()).hexdigest()
    return f"login-failures:{digest}"


def login_throttle_check(*, email: str, ip: str) -> None:
    """Refuse a sign-in after too many recent failures for this email from this address."""
    failures = cache.get(_failure_key(email, ip), 0)
    if failures >= settings.LOGIN_FAILURE_LIMIT:
        minutes = max(1, settings.LOGIN_FAILURE_WINDOW_SECONDS // 60)
        raise ApplicationError(
            f"Too many failed sign-in attempts. Wait {minutes} minutes or reset your password.",
            status_code=429, headers={"Retry-After": str(settings.LOGIN_FAILURE_WINDOW_SECONDS)})


def login_failure_record(*, email: str, ip: str) -> None:
    key = _failure_key(email, ip)
    # add() starts the window at the first failure; incr() never extends it.
    cache.add(key, 0, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=settings.LOGIN_FAILURE_WINDOW_SECONDS)


def user_authenticate(*, request, email: str, password: str, ip: str) -> User:
    """Check credentials under the failure throttle; a wrong password costs one attempt."""
    login_throttle_check(email=email, ip=ip)
    user = authenticate(request, username=(email or "").strip().lower(), password=password)
    if user is None:
        login_failure_record(email=email, ip=ip)
        raise ApplicationError("Email or password is incorrect.",
                               extra={"non_field_errors": ["Email or password is incorrect."]})
    cache.delete(_failure_key(email, ip))
    return user


def token_issue(*, user: User) -> str:
    """A new API token for one device (a sign-in); beyond API_TOKENS_PER_USER the oldest ones
    are revoked, so forgotten devices don't pile up. Only a hash is stored."""
    token, key = AuthToken.objects.create(user=user)
    stale = list(AuthToken.objects.filter(user=user).order_by("-created", "-pk")
                 .values_list("pk", flat=True)[settings.API_TOKENS_PER_USER:])
    for digest in stale:
        token_revoke(token_id=digest, user_id=user.pk)
    return key


def token_revoke(*, token_id: str, user_id: int) -> None:
    """Sign out one device: its token stops working and its sockets close."""
    AuthToken.objects.filter(pk=token_id, user_id=user_id).delete()
    _signed_out(user_id=user_id, token_id=token_id)


def session_signed_out(*, user_id: int, session_key: str | None) -> None:
    """A browser session ended (logout): its sockets close too."""
    if session_key:
        _signed_out(user_id=user_id, session_key=session_key)


def user_credentials_revoke(*, user: User, keep_session_key: str | None = None) -> None:
    """After a password change or reset: every API token is revoked and every socket closes,
    except those of the session that made the change (`keep_session_key`). Other browser
    sessions already fail: Django checks each session's password hash on every request."""
    AuthToken.objects.filter(user=user).delete()
    _signed_out(user_id=user.pk, keep_session_key=keep_session_key)


def _signed_out(**credentials) -> None:
    """Tell the upper layers (sockets) on commit, through SIGN_OUT_HOOKS: accounts sits below
    them and must not import them."""
    def run():
        for path in settings.SIGN_OUT_HOOKS:
            try:
                import_string(path)(**credentials)
            except Exception:  # the credential is gone either way; a socket may linger
                logger.exception("sign-out hook %s failed", path)

    transaction.on_commit(run)


def user_set_email_notifications(*, user: User, enabled: bool) -> None:
    """Whether the user gets an email when a video is ready or has failed."""
    user.email_notifications = enabled
    user.save(update_fields=["email_notifications"])


def client_ip(request) -> str:
    """The caller's address; behind a proxy set TRUSTED_PROXY_COUNT so X-Forwarded-For is used."""
    proxies = getattr(settings, "TRUSTED_PROXY_COUNT", 0)
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        if len(hops) >= proxies:
            return hops[-proxies]
    return request.META.get("REMOTE_ADDR", "") or "unknown"
