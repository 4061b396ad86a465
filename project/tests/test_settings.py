"""Settings come from the environment; production refuses unsafe defaults."""

import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import CommandError, call_command
from django.db import connection

from accounts.models import User
from launcher.embedded import BASE_DIR


def _load_settings(show: str = "settings.DEBUG", **env):
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("SECRET_KEY", "SURGE_ENV", "DEBUG", "DEMO",
                                  "DB_PREPARED_STATEMENTS")}
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); from django.conf import settings;"
                               f" print({show})"],
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


def _postgresql_options(**env) -> dict:
    result = _load_settings(
        "__import__('json').dumps(settings.DATABASES['default']['OPTIONS'])",
        DATABASE_URL="postgres://surge@127.0.0.1:5432/surge", **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_postgresql_binds_parameters_on_the_server_and_prepares_repeated_queries():
    options = _postgresql_options()
    assert options["server_side_binding"] is True
    assert options["prepare_threshold"] == 5


def test_prepared_statements_can_be_turned_off_for_a_pooler_in_transaction_mode():
    options = _postgresql_options(DB_PREPARED_STATEMENTS="0")
    assert "server_side_binding" not in options
    assert "prepare_threshold" not in options
    assert options["pool"]["max_size"] == 10


@pytest.mark.django_db
def test_a_query_run_again_and_again_is_prepared_on_postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's prepared statements")
    for _ in range(6):
        list(User.objects.filter(email="nobody@surge.local").values_list("id", flat=True))
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [statement for (statement,) in cursor.fetchall()]
    assert any('FROM "accounts_user"' in statement and "$1" in statement
               for statement in prepared), prepared
