"""Every write about users: sign-up, sign-in and password resets under rate limits, tokens,
preferences, deleting the user."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import authenticate, password_validation
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.module_loading import import_string
from knox.models import AuthToken

from accounts.models import User
from common.exceptions import ApplicationError
from common.ratelimit import (
    RateLimit,
    address_key,
    rate_limit_clear,
    rate_limit_hit,
    rate_limit_refund,
)

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


def _login_failures_per_email() -> RateLimit:
    return RateLimit("login-failures", settings.LOGIN_FAILURE_LIMIT,
                     settings.LOGIN_FAILURE_WINDOW_SECONDS,
                     "Too many failed sign-in attempts. Wait {wait} or reset your password.")


def _login_failures_per_address() -> RateLimit:
    return RateLimit("login-failures-address", settings.LOGIN_ADDRESS_FAILURE_LIMIT,
                     settings.LOGIN_FAILURE_WINDOW_SECONDS,
                     "Too many failed sign-in attempts from your network. Wait {wait}.")


def _signups_per_address() -> RateLimit:
    return RateLimit("signups", settings.SIGNUP_LIMIT, settings.SIGNUP_WINDOW_SECONDS,
                     "Too many sign-ups from your network. Wait {wait}, then try again.")


def _password_resets_per_email() -> RateLimit:
    return RateLimit("password-resets", settings.PASSWORD_RESET_LIMIT,
                     settings.PASSWORD_RESET_WINDOW_SECONDS,
                     "A reset link was already sent to this address several times. Check your "
                     "inbox (and spam folder), or wait {wait}.")


def _password_resets_per_address() -> RateLimit:
    return RateLimit("password-resets-address", settings.PASSWORD_RESET_ADDRESS_LIMIT,
                     settings.PASSWORD_RESET_WINDOW_SECONDS,
                     "Too many password-reset requests from your network. Wait {wait}.")


def _email_key(email: str, ip: str) -> str:
    return f"{(email or '').strip().lower()}|{address_key(ip)}"


def user_signup(*, email: str, password: str, ip: str) -> User:
    """Sign-up by anyone (API or page): counted per address, then `user_create`."""
    rate_limit_hit(_signups_per_address(), address_key(ip))
    return user_create(email=email, password=password)


def user_authenticate(*, request, email: str, password: str, ip: str) -> User:
    """Check credentials under the failure limits; a wrong password costs one attempt of the
    email from this address, and one of the address whatever the email.

    Attempts are counted before the password is checked, so concurrent guesses cannot slip
    past a limit; a success gives its attempts back.
    """
    per_email, per_address = _login_failures_per_email(), _login_failures_per_address()
    rate_limit_hit(per_address, address_key(ip))
    rate_limit_hit(per_email, _email_key(email, ip))
    user = authenticate(request, username=(email or "").strip().lower(), password=password)
    if user is None:
        raise ApplicationError("Email or password is incorrect.",
                               extra={"non_field_errors": ["Email or password is incorrect."]})
    # Only this email starts over: signing in to one's own account must buy no more guesses.
    rate_limit_clear(per_email, _email_key(email, ip))
    rate_limit_refund(per_address, address_key(ip))
    return user


def password_reset_allow(*, email: str, ip: str) -> None:
    """Count a password-reset request per client address and per email (known or not, so the
    answer says nothing about which emails have accounts); 429 beyond either limit."""
    rate_limit_hit(_password_resets_per_address(), address_key(ip))
    rate_limit_hit(_password_resets_per_email(), (email or "").strip().lower())


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


def user_password_confirm(*, user: User, password: str, ip: str) -> None:
    """A signed-in user re-enters their password (before deleting the account): 400 when wrong,
    under the same failure limits as signing in, so a borrowed session cannot guess it."""
    per_email, per_address = _login_failures_per_email(), _login_failures_per_address()
    rate_limit_hit(per_address, address_key(ip))
    rate_limit_hit(per_email, _email_key(user.email, ip))
    if not user.check_password(password or ""):
        raise ApplicationError("The password is incorrect.",
                               extra={"password": ["The password is incorrect."]})
    rate_limit_clear(per_email, _email_key(user.email, ip))
    rate_limit_refund(per_address, address_key(ip))


def user_delete(*, user: User) -> None:
    """Delete the user's row (and every row that cascades from it), sign out every device and
    socket, and email a confirmation once committed. Call from the service that first deletes
    what the user owns elsewhere (jobs.services.deletion.account_delete)."""
    email, user_id = user.email, user.pk
    with transaction.atomic():
        user_credentials_revoke(user=user)  # tokens go with the row; every socket closes
        user.delete()
        transaction.on_commit(lambda: _send_account_deleted(email=email, user_id=user_id))


def _send_account_deleted(*, email: str, user_id: int) -> None:
    """Plain text and HTML, with links on PUBLIC_BASE_URL (never a request's Host)."""
    context = {"email": email, "signup_url": settings.PUBLIC_BASE_URL + reverse("signup"),
               "site_url": settings.PUBLIC_BASE_URL + "/"}
    message = EmailMultiAlternatives(
        "Surge: your account was deleted",
        render_to_string("accounts/emails/account_deleted.txt", context),
        settings.DEFAULT_FROM_EMAIL, [email])
    message.attach_alternative(render_to_string("accounts/emails/account_deleted.html", context),
                               "text/html")
    try:
        message.send()
    except Exception:  # the account is gone either way; the email is a courtesy
        logger.exception("could not email the deletion confirmation to user %s", user_id)
