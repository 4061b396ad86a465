"""Production settings pass Django's deployment checklist and refuse development-only options."""

import os
import secrets
import subprocess
import sys

import pytest

from launcher.embedded import BASE_DIR

SECRET = secrets.token_urlsafe(50)  # Django's checklist wants 50+ random characters


def manage(*args, **env):
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("SECRET_KEY", "SURGE_ENV", "DEBUG", "SECURE_SSL_REDIRECT",
                                  "SECURE_HSTS_SECONDS", "PUSH_ALLOWED_PRIVATE_HOSTS")}
    environment.update(SURGE_ENV="production", SECRET_KEY=SECRET,
                       ALLOWED_HOSTS="surge.example.com",
                       PUBLIC_BASE_URL="https://surge.example.com", **env)
    return subprocess.run([sys.executable, "manage.py", *args], env=environment, cwd=BASE_DIR,
                          capture_output=True, text=True, timeout=120)


def test_the_deployment_checklist_is_clean_in_production():
    """`manage.py check --deploy` with production settings: no warning (HSTS, https redirect,
    secure cookies, DEBUG off…)."""
    result = manage("check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_private_push_hosts():
    """PUSH_ALLOWED_PRIVATE_HOSTS is for a local push server in development and tests only."""
    result = manage("check", PUSH_ALLOWED_PRIVATE_HOSTS="127.0.0.1:9000")
    assert result.returncode != 0
    assert "PUSH_ALLOWED_PRIVATE_HOSTS" in result.stderr


@pytest.mark.django_db
def test_https_is_enforced_but_health_probes_answer_over_http(client, settings):
    """Plain http is redirected to https, with HSTS on https; load balancers probe over http."""
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 3600
    response = client.get("/accounts/login/")
    assert response.status_code == 301 and response["Location"].startswith("https://")
    assert client.get("/healthz").status_code == 200
    secure = client.get("/accounts/login/", secure=True)
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"].startswith("max-age=3600")
