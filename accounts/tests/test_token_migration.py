"""Moving to per-device tokens signs no phone out."""

from importlib import import_module
from types import SimpleNamespace

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client

from accounts.models import User

pytestmark = pytest.mark.django_db
migration = import_module("accounts.migrations.0002_knox_tokens_from_drf")


def test_tokens_of_drf_days_keep_working_after_the_migration():
    """The migration to per-device tokens copies each old key as its hash and deletes the key."""
    key = "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"  # DRF's format: 40 hex characters
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, "
                       "user_id bigint NOT NULL, created timestamp NOT NULL)")
        cursor.execute("INSERT INTO authtoken_token VALUES (%s, %s, CURRENT_TIMESTAMP)",
                       [key, User.objects.create_user("ada@example.com", "x").pk])
    try:
        migration.copy_tokens(apps, SimpleNamespace(connection=connection))
        me = Client().get("/api/v1/me/", HTTP_AUTHORIZATION=f"Token {key}")
        assert me.status_code == 200
        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM authtoken_token")
            assert cursor.fetchone() == (0,)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE authtoken_token")
