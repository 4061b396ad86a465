"""Receivers of django.contrib.auth's signals: a logout ends the session's sockets too."""

from __future__ import annotations

from accounts.services import session_signed_out


def user_logged_out_close_sockets(sender, request, user, **kwargs):
    if user is not None and request is not None:
        session_signed_out(user_id=user.pk, session_key=request.session.session_key)
