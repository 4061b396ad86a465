"""Settings come from the environment; production refuses unsafe defaults."""

import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command

from accounts.models import User
from launcher.embedded import BASE_DIR


def _load_settings(**env):
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("SECRET_KEY", "SURGE_ENV", "DEBUG", "DEMO")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings;"
                               " print(settings.DEBUG)"],
        env={**environment, "DJANGO_SETTINGS_MODULE": "project.settings"}, cwd=BASE_DIR,
        capture_output=True, text=True, timeout=60)


def test_production_refuses_to_start_without_a_secret_key():
    result = _load_settings(SURGE_ENV="production")
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr


def test_production_starts_with_a_real_secret_and_debug_off():
    result = _load_settings(SURGE_ENV="production", SECRET_KEY="x" * 8 + "Kq3#vLp9!Zr2@Wm5$Ty8^Uh1&")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_a_negative_queue_timeout_is_refused_with_what_to_set():
    """It would turn every request away: 503 before any had waited."""
    result = _load_settings(WEB_QUEUE_TIMEOUT="-1")
    assert result.returncode != 0
    assert "WEB_QUEUE_TIMEOUT must be 0 (no limit) or a number of seconds" in result.stderr
    assert _load_settings(WEB_QUEUE_TIMEOUT="0").returncode == 0


def test_production_refuses_the_demo_account():
    """DEMO=1 would create demo@surge.local with a published password."""
    result = _load_settings(SURGE_ENV="production", DEMO="1",
                            SECRET_KEY="x" * 8 + "Kq3#vLp9!Zr2@Wm5$Ty8^Uh1&")
    assert result.returncode != 0
    assert "DEMO=1" in result.stderr and "SURGE_ENV=production" in result.stderr


def test_the_demo_user_command_refuses_in_production(settings, db):
    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="development only"):
        call_command("ensure_demo_user")
    assert not User.objects.filter(email="demo@surge.local").exists()


def test_services_come_from_the_environment():
    assert settings.REDIS_URL == os.environ["REDIS_URL"]
    assert settings.STORAGES["default"]["OPTIONS"]["endpoint_url"] == os.environ["S3_ENDPOINT_URL"]


def test_default_storage_is_s3():
    name = default_storage.save("tests/hello.txt", ContentFile(b"hello"))
    try:
        assert default_storage.open(name).read() == b"hello"
        assert "X-Amz-Signature" in default_storage.url(name)
    finally:
        default_storage.delete(name)
    assert not default_storage.exists(name)
