"""Sockets die with their credentials: a logout closes that session's or that token's sockets,
a password change or reset closes all but the changing browser's; each with 4401."""

from __future__ import annotations

import re

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from django.core import mail
from django.test import Client

from accounts.services import token_issue
from jobs.events import publish, user_group
from notifications.tests.conftest import PASSWORD
from notifications.tests.sockets.test_consumers import HOST, ORIGIN, run
from project.asgi import application
from project.testing.sessions import signed_in_session_key
from project.testing.websocket import Communicator

pytestmark = pytest.mark.django_db(transaction=True)
FRESH = "Fresh-Neon-7731"


def browser_session(user) -> str:
    return signed_in_session_key(user)


def browser(session_key: str) -> Client:
    client = Client()
    client.cookies["sessionid"] = session_key
    return client


async def open_socket(*, session_key: str | None = None, token: str | None = None):
    headers = [HOST, ORIGIN]
    if session_key:
        headers.append((b"cookie", f"sessionid={session_key}".encode()))
    if token:
        headers = [(b"authorization", f"Token {token}".encode())]  # a native app: no Origin
    comm = Communicator(application, "/ws/jobs/", headers=headers)
    connected, _ = await comm.connect()
    assert connected
    assert (await comm.receive_json_from())["type"] == "snapshot"
    return comm


async def closed_with(comm) -> int:
    while True:
        output = await comm.receive_output()
        if output["type"] == "websocket.close":
            return output["code"]


async def still_open(comm, user) -> bool:
    """A later message to the user arrives: the socket got the sign-out (same channel, in
    order), ignored it, and is still open."""
    await sync_to_async(publish)([(user_group(user.pk), {
        "type": "notification.created", "notification": {}, "unread_count": 7})])
    output = await comm.receive_output()
    if output["type"] == "websocket.close":
        return False
    await comm.disconnect()
    return True


def test_api_logout_closes_that_tokens_sockets_only(user):
    """Another phone's socket, with its own token, stays open."""
    phone, tablet = token_issue(user=user), token_issue(user=user)

    async def body():
        phone_socket, tablet_socket = await open_socket(token=phone), await open_socket(
            token=tablet)
        response = await sync_to_async(Client().post)("/api/v1/auth/logout/",
                                                      HTTP_AUTHORIZATION=f"Token {phone}")
        assert response.status_code == 204
        assert await closed_with(phone_socket) == 4401
        assert await still_open(tablet_socket, user)
    run(body)


def test_browser_logout_closes_that_sessions_sockets_only(user):
    """HTTP already says 401 after logout; the session's open sockets now close as well."""
    leaving, staying = browser_session(user), browser_session(user)

    async def body():
        leaving_socket = await open_socket(session_key=leaving)
        staying_socket = await open_socket(session_key=staying)
        response = await sync_to_async(browser(leaving).post)("/accounts/logout/")
        assert response.status_code == 302
        assert await closed_with(leaving_socket) == 4401
        assert await still_open(staying_socket, user)
    run(body)


def test_a_password_change_closes_every_other_socket(user):
    """Tokens and other sessions lose their sockets; the changing browser keeps its own."""
    token, other, changing = token_issue(user=user), browser_session(user), browser_session(user)

    async def body():
        token_socket = await open_socket(token=token)
        other_socket = await open_socket(session_key=other)
        changing_socket = await open_socket(session_key=changing)
        response = await sync_to_async(browser(changing).post)("/accounts/password/change/", {
            "old_password": PASSWORD, "new_password1": FRESH, "new_password2": FRESH})
        assert response.status_code == 302
        assert await closed_with(token_socket) == 4401
        assert await closed_with(other_socket) == 4401
        assert await still_open(changing_socket, user)
    run(body)


def test_a_password_reset_closes_every_socket(user):
    token, session = token_issue(user=user), browser_session(user)

    async def body():
        sockets = [await open_socket(token=token), await open_socket(session_key=session)]
        await database_sync_to_async(reset_password)(user)
        for comm in sockets:
            assert await closed_with(comm) == 4401
    run(body)


def reset_password(user) -> None:
    client = Client()
    client.post("/accounts/password/reset/", {"email": user.email})
    link = re.search(r"/accounts/password/reset/\S+/\S+/", mail.outbox[-1].body).group(0)
    response = client.post(client.get(link).url, {"new_password1": FRESH,
                                                  "new_password2": FRESH})
    assert response.status_code == 302


def test_deleting_the_account_closes_every_socket(user):
    """Tokens and every session, the deleting browser's included, lose their sockets."""
    token, other, deleting = token_issue(user=user), browser_session(user), browser_session(user)

    async def body():
        sockets = [await open_socket(token=token), await open_socket(session_key=other),
                   await open_socket(session_key=deleting)]
        response = await sync_to_async(browser(deleting).post)("/app/account/delete/",
                                                               {"password": PASSWORD})
        assert response.status_code == 302
        for comm in sockets:
            assert await closed_with(comm) == 4401
    run(body)
