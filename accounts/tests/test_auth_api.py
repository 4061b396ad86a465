"""The accounts API as a mobile client uses it."""

from datetime import timedelta

import pytest
from django.utils import timezone
from knox.models import AuthToken
from knox.settings import CONSTANTS
from rest_framework.test import APIClient

from accounts.auth import TokenAuthentication
from accounts.models import User

pytestmark = pytest.mark.django_db
STRONG = "neon-Skyline-4821"


@pytest.fixture
def client():
    return APIClient()


def signup(client, email="ava@example.com", password=STRONG):
    return client.post("/api/v1/auth/signup/", {"email": email, "password": password},
                       format="json")


def assert_error_shape(response, status):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"message", "extra"}
    assert isinstance(body["message"], str) and body["message"]
    return body


def test_signup_returns_user_and_token(client):
    response = signup(client, email="Ava@Example.com")
    assert response.status_code == 201
    body = response.json()
    assert body["email"] == "ava@example.com"
    assert body["token"] and body["id"] == User.objects.get().id


def test_signup_with_taken_email_says_so(client):
    signup(client)
    body = assert_error_shape(signup(client, email="AVA@example.com"), 400)
    assert "already exists" in body["message"]
    assert "email" in body["extra"]


def test_signup_with_weak_password_says_why(client):
    body = assert_error_shape(signup(client, password="12345678"), 400)
    assert "password" in body["extra"]
    assert "password" in body["message"].lower()
    assert not User.objects.exists()


def test_signup_with_invalid_email(client):
    body = assert_error_shape(signup(client, email="not-an-email"), 400)
    assert "email" in body["extra"]


def test_signup_without_fields_names_them(client):
    body = assert_error_shape(client.post("/api/v1/auth/signup/", {}, format="json"), 400)
    assert set(body["extra"]) == {"email", "password"}


def test_token_for_good_credentials(client):
    """Each sign-in is a device of its own: a new token, and the earlier one still works."""
    first = signup(client).json()["token"]
    response = client.post("/api/v1/auth/token/", {"email": "ava@example.com",
                                                    "password": STRONG}, format="json")
    assert response.status_code == 200
    second = response.json()["token"]
    assert second != first
    for token in (first, second):
        assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200


def test_token_for_bad_credentials_is_400_with_message(client):
    signup(client)
    response = client.post("/api/v1/auth/token/", {"email": "ava@example.com",
                                                    "password": "wrong"}, format="json")
    body = assert_error_shape(response, 400)
    assert body["message"] == "Email or password is incorrect."


def test_me_with_token(client):
    created = signup(client).json()
    client.credentials(HTTP_AUTHORIZATION=f"Token {created['token']}")
    assert client.get("/api/v1/me/").json() == {"id": created["id"], "email": "ava@example.com"}


def test_me_without_token_is_401_in_error_shape(client):
    assert_error_shape(client.get("/api/v1/me/"), 401)


def test_logout_revokes_the_token(client):
    token = signup(client).json()["token"]
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert_error_shape(client.get("/api/v1/me/"), 401)


def test_logout_on_one_phone_keeps_the_other_signed_in(client):
    """Logging out revokes the token of the device that asked, not every device's."""
    phone = signup(client).json()["token"]
    tablet = client.post("/api/v1/auth/token/", {"email": "ava@example.com",
                                                  "password": STRONG}, format="json").json()["token"]
    assert client.post("/api/v1/auth/logout/",
                       HTTP_AUTHORIZATION=f"Token {phone}").status_code == 204
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {phone}").status_code == 401
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {tablet}").status_code == 200


def test_tokens_are_stored_as_hashes(client):
    """A copy of the database does not hand out working tokens."""

    token = signup(client).json()["token"]
    stored = AuthToken.objects.get()
    assert token not in (stored.digest, stored.token_key) and len(stored.token_key) < len(token)


def test_old_devices_are_signed_out_beyond_the_per_user_limit(client, settings):
    """API_TOKENS_PER_USER: a new sign-in revokes the oldest tokens beyond it."""
    settings.API_TOKENS_PER_USER = 2
    oldest = signup(client).json()["token"]
    credentials = {"email": "ava@example.com", "password": STRONG}
    newer = [client.post("/api/v1/auth/token/", credentials, format="json").json()["token"]
             for _ in range(2)]
    assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {oldest}").status_code == 401
    for token in newer:
        assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200


def test_repeated_failures_are_throttled_with_a_clear_message(client):
    signup(client)
    wrong = {"email": "ava@example.com", "password": "wrong"}
    for _ in range(5):
        assert client.post("/api/v1/auth/token/", wrong, format="json").status_code == 400
    right = {"email": "ava@example.com", "password": STRONG}
    body = assert_error_shape(client.post("/api/v1/auth/token/", right, format="json"), 429)
    assert "Too many failed sign-in attempts" in body["message"]
    other_ip = client.post("/api/v1/auth/token/", right, format="json",
                           REMOTE_ADDR="10.9.9.9")
    assert other_ip.status_code == 200


def test_unknown_api_path_is_json_404(client):
    assert_error_shape(client.get("/api/v1/nope/"), 404)


def test_a_token_past_its_expiry_is_refused_and_deleted(client):
    """Our tokens carry no expiry, so the per-call sweep of the user's tokens is skipped; one
    that does carry an expiry (made elsewhere) still stops working once it has passed."""
    token = signup(client).json()["token"]
    AuthToken.objects.update(expiry=timezone.now() - timedelta(seconds=1))
    assert_error_shape(client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}"), 401)
    assert not AuthToken.objects.exists()


def test_an_authenticated_call_reads_its_token_in_one_query(client, django_assert_num_queries):
    """knox would also load every token of the user on each call, to sweep expired ones."""
    token = signup(client).json()["token"]
    with django_assert_num_queries(1):
        assert client.get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {token}").status_code == 200


def test_many_tokens_are_checked_with_one_query(django_assert_num_queries):
    """What the submission intake uses for a batch: each token as authenticate_credentials
    would judge it, the invalid ones None."""
    first = User.objects.create_user("first@example.com", "x-Strong-Pass-99")
    second = User.objects.create_user("second@example.com", "x-Strong-Pass-99")
    inactive = User.objects.create_user("inactive@example.com", "x-Strong-Pass-99",
                                        is_active=False)
    tokens = [AuthToken.objects.create(user)[1] for user in (first, second, inactive)]
    forged = tokens[0][:CONSTANTS.TOKEN_KEY_LENGTH] + "0" * (len(tokens[0])
                                                             - CONSTANTS.TOKEN_KEY_LENGTH)
    with django_assert_num_queries(1):
        found = TokenAuthentication().authenticate_many(
            [tokens[0].encode(), forged.encode(), tokens[1].encode(), b"\xff\xfe",
             tokens[2].encode(), tokens[0].encode()])
    assert [result and result[0] for result in found] == [first, None, second, None, None, first]
