"""Every way in is rate limited the same way, by an address nobody can forge."""

import re

import pytest
from django.core import mail
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User

pytestmark = pytest.mark.django_db
STRONG = "neon-Skyline-4821"
TOKEN_URL = "/api/v1/auth/token/"
SIGNUP_URL = "/api/v1/auth/signup/"


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def ava():
    return User.objects.create_user("ava@example.com", STRONG)


def token(api, password, email="ava@example.com", **headers):
    return api.post(TOKEN_URL, {"email": email, "password": password}, format="json", **headers)


def assert_limited(response):
    """A refusal by a rate limit: 429, the API's error shape, and when to come back."""
    assert response.status_code == 429, response.content
    retry_after = int(response["Retry-After"])
    assert retry_after > 0
    if response["Content-Type"].startswith("application/json"):
        body = response.json()
        assert set(body) == {"message", "extra"} and body["message"]
        assert body["extra"]["retry_after"] == retry_after
    return retry_after


def test_a_forged_forwarded_for_does_not_reset_the_login_limit(api, ava):
    """Without trusted proxies, X-Forwarded-For is ignored: a fresh header buys no attempts."""
    for n in range(5):
        assert token(api, "wrong", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code == 400
    retry_after = assert_limited(token(api, STRONG, HTTP_X_FORWARDED_FOR="203.0.113.8"))
    assert retry_after <= 15 * 60


def test_thirty_wrong_passwords_from_forged_addresses_are_refused(api, ava):
    """Each attempt naming another address still counts against the one real address."""
    codes = [token(api, "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code
             for n in range(30)]
    assert codes[:5] == [400] * 5
    assert set(codes[5:]) == {429}


def test_behind_a_trusted_proxy_its_appended_address_counts(api, ava, settings):
    """With one trusted proxy the last hop is the client; what the client prepended is not."""
    settings.TRUSTED_PROXY_COUNT = 1
    for n in range(5):
        response = token(api, "wrong", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}, 192.0.2.50")
        assert response.status_code == 400
    assert_limited(token(api, STRONG, HTTP_X_FORWARDED_FOR="203.0.113.99, 192.0.2.50"))
    other_client = token(api, STRONG, HTTP_X_FORWARDED_FOR="192.0.2.51")
    assert other_client.status_code == 200


def test_one_address_cannot_try_many_emails(api, settings):
    """Beyond LOGIN_ADDRESS_FAILURE_LIMIT failures from one address, every email is refused."""
    assert settings.LOGIN_ADDRESS_FAILURE_LIMIT == 10
    User.objects.create_user("victim11@example.com", STRONG)
    codes = [token(api, "wrong", email=f"victim{n}@example.com").status_code for n in range(10)]
    assert codes == [400] * 10
    assert_limited(token(api, STRONG, email="victim11@example.com"))
    elsewhere = token(api, STRONG, email="victim11@example.com", REMOTE_ADDR="10.7.7.7")
    assert elsewhere.status_code == 200


def test_signing_in_to_ones_own_account_does_not_reset_the_address_limit(api, ava, settings):
    """A success clears the failures of its email only, not those counted for the address."""
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 4
    for n in range(3):
        assert token(api, "wrong", email=f"someone{n}@example.com").status_code == 400
    assert token(api, STRONG).status_code == 200
    assert token(api, "wrong", email="someone9@example.com").status_code == 400
    assert_limited(token(api, "wrong", email="someone10@example.com"))


def test_ipv6_addresses_of_one_network_share_a_limit(api, ava, settings):
    """Addresses in one IPv6 /64 (one customer's network) count as one address."""
    settings.LOGIN_FAILURE_LIMIT = 2
    token(api, "wrong", REMOTE_ADDR="2001:db8:1:2::10")
    token(api, "wrong", REMOTE_ADDR="2001:db8:1:2:ffff::1")
    assert_limited(token(api, STRONG, REMOTE_ADDR="2001:db8:1:2::99"))
    assert token(api, STRONG, REMOTE_ADDR="2001:db8:1:3::10").status_code == 200


def test_api_signups_are_limited_per_address_despite_forged_headers(api, settings):
    """SIGNUP_LIMIT counts every sign-up attempt per address; a forged header changes nothing."""
    settings.SIGNUP_LIMIT = 3
    for n in range(3):
        response = api.post(SIGNUP_URL, {"email": f"new{n}@example.com", "password": STRONG},
                            format="json", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}")
        assert response.status_code == 201
    response = api.post(SIGNUP_URL, {"email": "new9@example.com", "password": STRONG},
                        format="json", HTTP_X_FORWARDED_FOR="203.0.113.77")
    assert_limited(response)
    assert not User.objects.filter(email="new9@example.com").exists()


def test_the_signup_page_shares_the_api_signup_limit(api, client, settings):
    """The browser form and the API draw on one per-address budget."""
    settings.SIGNUP_LIMIT = 2
    api.post(SIGNUP_URL, {"email": "a1@example.com", "password": STRONG}, format="json")
    page = client.post("/accounts/signup/", {"email": "a2@example.com", "password": STRONG})
    assert page.status_code == 302
    refused = Client().post("/accounts/signup/", {"email": "a3@example.com", "password": STRONG})
    assert_limited(refused)
    assert b"Too many sign-ups" in refused.content
    assert not User.objects.filter(email="a3@example.com").exists()


def test_the_signup_limit_default_is_documented(settings):
    assert (settings.SIGNUP_LIMIT, settings.SIGNUP_WINDOW_SECONDS) == (30, 3600)


def test_the_login_page_answers_429_with_retry_after(client, ava):
    for _ in range(5):
        client.post("/accounts/login/", {"username": "ava@example.com", "password": "nope"})
    response = client.post("/accounts/login/", {"username": "ava@example.com",
                                                 "password": STRONG})
    assert_limited(response)
    assert b"Too many failed sign-in attempts" in response.content
    assert "_auth_user_id" not in client.session


def test_admin_login_is_limited_like_every_other_sign_in(client):
    """/admin/login/ counts failures in the same budget; the right password is then refused."""
    User.objects.create_superuser("root@example.com", STRONG)
    for _ in range(8):
        response = client.post("/admin/login/", {"username": "root@example.com",
                                                 "password": "guess"})
        assert response.status_code in (200, 429)
    response = client.post("/admin/login/?next=/admin/", {"username": "root@example.com",
                                                          "password": STRONG})
    assert_limited(response)
    assert client.get("/admin/").status_code == 302  # still not signed in
    api_too = token(APIClient(), STRONG, email="root@example.com")
    assert_limited(api_too)


def test_password_reset_emails_are_limited_per_email(settings):
    """PASSWORD_RESET_LIMIT emails per address per window, whoever asks for them."""
    settings.PASSWORD_RESET_LIMIT = 2
    User.objects.create_user("di@example.com", STRONG)
    for n in range(2):
        response = Client(REMOTE_ADDR=f"10.0.0.{n}").post("/accounts/password/reset/",
                                                          {"email": "di@example.com"})
        assert response.status_code == 302
    response = Client(REMOTE_ADDR="10.0.0.9").post("/accounts/password/reset/",
                                                   {"email": "di@example.com"})
    assert_limited(response)
    assert len(mail.outbox) == 2


def test_password_reset_requests_are_limited_per_address(client, settings):
    """One address cannot mail resets to many accounts (nor probe them unboundedly)."""
    settings.PASSWORD_RESET_ADDRESS_LIMIT = 3
    for n in range(3):
        response = client.post("/accounts/password/reset/", {"email": f"u{n}@example.com"})
        assert response.status_code == 302
    assert_limited(client.post("/accounts/password/reset/", {"email": "u9@example.com"}))


def test_password_reset_link_is_built_from_public_base_url_not_host(client, settings):
    """A forged Host header cannot point the reset link at someone else's site."""
    settings.PUBLIC_BASE_URL = "https://surge.example.com"
    settings.ALLOWED_HOSTS = ["*"]
    User.objects.create_user("di@example.com", STRONG)
    client.post("/accounts/password/reset/", {"email": "di@example.com"},
                HTTP_HOST="evil.example.net")
    [message] = mail.outbox
    assert "evil.example.net" not in message.body
    link = re.search(r"https://surge\.example\.com/accounts/password/reset/\S+/\S+/",
                     message.body).group(0)
    [(html, kind)] = message.alternatives  # a branded email: text and HTML, the same link
    assert kind == "text/html" and f'href="{link}"' in html and "evil.example.net" not in html
    assert message.subject == "Surge: Reset your password"
