"""Browser pages for accounts: sign up, log in, log out, password change and reset."""

import re

import pytest
from django.core import mail
from django.test import Client

from accounts.models import User

pytestmark = pytest.mark.django_db
STRONG = "neon-Skyline-4821"


def test_landing_page_says_what_surge_does(client):
    response = client.get("/")
    assert response.status_code == 200
    assert b"selfie" in response.content and b"Sign up" in response.content


def test_signup_page_creates_the_user_and_signs_in(client):
    response = client.post("/accounts/signup/", {"email": "bo@example.com", "password": STRONG})
    assert response.status_code == 302
    assert client.get("/app/").status_code == 200
    assert User.objects.filter(email="bo@example.com").exists()


def test_signup_page_shows_why_a_password_is_refused(client):
    response = client.post("/accounts/signup/", {"email": "bo@example.com", "password": "abc"})
    assert response.status_code == 200
    assert b"too short" in response.content
    assert not User.objects.exists()


def test_login_and_logout(client):
    User.objects.create_user("cy@example.com", STRONG)
    response = client.post("/accounts/login/", {"username": "cy@example.com", "password": STRONG})
    assert response.status_code == 302
    assert client.get("/app/").status_code == 200
    client.post("/accounts/logout/")
    assert client.get("/app/").status_code == 302


def test_login_is_throttled_after_five_failures(client):
    User.objects.create_user("cy@example.com", STRONG)
    for _ in range(5):
        client.post("/accounts/login/", {"username": "cy@example.com", "password": "nope"})
    response = client.post("/accounts/login/", {"username": "cy@example.com", "password": STRONG})
    assert response.status_code == 429 and int(response["Retry-After"]) > 0
    assert b"Too many failed sign-in attempts" in response.content


def test_login_page_has_csrf_protection(client):
    strict = Client(enforce_csrf_checks=True)
    User.objects.create_user("cy@example.com", STRONG)
    response = strict.post("/accounts/login/", {"username": "cy@example.com", "password": STRONG})
    assert response.status_code == 403


def test_password_reset_by_email(client):
    User.objects.create_user("di@example.com", STRONG)
    client.post("/accounts/password/reset/", {"email": "di@example.com"})
    assert len(mail.outbox) == 1
    link = re.search(r"/accounts/password/reset/\S+/\S+/", mail.outbox[0].body).group(0)
    form_url = client.get(link).url  # Django swaps the token for a session-held one
    response = client.post(form_url, {"new_password1": "Fresh-Neon-7731",
                                      "new_password2": "Fresh-Neon-7731"})
    assert response.status_code == 302
    assert User.objects.get().check_password("Fresh-Neon-7731")


def test_password_change(client):
    user = User.objects.create_user("el@example.com", STRONG)
    client.force_login(user)
    response = client.post("/accounts/password/change/", {
        "old_password": STRONG, "new_password1": "Other-Neon-9902",
        "new_password2": "Other-Neon-9902"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password("Other-Neon-9902")


def test_passwords_are_hashed_with_argon2():
    user = User.objects.create_user("fa@example.com", STRONG)
    assert user.password.startswith("argon2")
