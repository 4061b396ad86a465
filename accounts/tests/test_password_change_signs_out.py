"""A password change or reset ends the old credentials: API tokens and other sessions."""

import re

import pytest
from django.contrib.auth import SESSION_KEY
from django.core import mail
from django.test import Client

from accounts.models import User
from accounts.services import token_issue

pytestmark = pytest.mark.django_db
STRONG = "neon-Skyline-4821"
FRESH = "Fresh-Neon-7731"


@pytest.fixture
def user():
    return User.objects.create_user("ada@example.com", STRONG)


def signed_in(user) -> Client:
    browser = Client()
    browser.force_login(user)
    return browser


def token_works(token: str) -> bool:
    status = Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}").status_code
    assert status in (200, 401)
    return status == 200


def test_a_password_change_signs_out_tokens_and_other_sessions(user):
    """The browser that changed the password stays in; other browsers and every token are out."""
    phone, other_browser, this_browser = token_issue(user=user), signed_in(user), signed_in(user)
    response = this_browser.post("/accounts/password/change/", {
        "old_password": STRONG, "new_password1": FRESH, "new_password2": FRESH})
    assert response.status_code == 302
    assert not token_works(phone)
    assert other_browser.get("/app/").status_code == 302  # to the login page
    assert this_browser.get("/app/").status_code == 200


def test_a_password_reset_signs_out_tokens_and_sessions(user):
    phone, browser = token_issue(user=user), signed_in(user)
    anonymous = Client()
    anonymous.post("/accounts/password/reset/", {"email": user.email})
    link = re.search(r"/accounts/password/reset/\S+/\S+/", mail.outbox[0].body).group(0)
    response = anonymous.post(anonymous.get(link).url, {"new_password1": FRESH,
                                                       "new_password2": FRESH})
    assert response.status_code == 302
    assert not token_works(phone)
    assert browser.get("/app/").status_code == 302


def test_a_password_set_in_the_admin_signs_the_user_out(user):
    phone = token_issue(user=user)
    staff = User.objects.create_superuser("root@example.com", STRONG)
    response = signed_in(staff).post(f"/admin/accounts/user/{user.pk}/password/", {
        "password1": FRESH, "password2": FRESH, "usable_password": "true"})
    assert response.status_code == 302, response.content[:2000]
    assert not token_works(phone)


def test_logging_in_again_after_a_change_works(user):
    """Only old credentials die: a new sign-in gets a working token."""
    token_issue(user=user)
    browser = signed_in(user)
    browser.post("/accounts/password/change/", {"old_password": STRONG, "new_password1": FRESH,
                                                "new_password2": FRESH})
    response = Client().post("/api/v1/auth/token/", {"email": user.email, "password": FRESH},
                             content_type="application/json")
    assert token_works(response.json()["token"])
    assert browser.session[SESSION_KEY] == str(user.pk)
