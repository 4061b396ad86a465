"""API tokens move from DRF's one-per-user table to knox's per-device, hashed ones.

Each existing key keeps working (knox finds a token by its first 15 characters and compares
the SHA-512 of the whole key), so no phone is signed out; the plaintext keys are then deleted.
rest_framework.authtoken is no longer installed, so its table is read with plain SQL if present.
"""

import hashlib

from django.db import migrations

DRF_TABLE = "authtoken_token"
KNOX_TOKEN_KEY_LENGTH = 15


def copy_tokens(apps, schema_editor):
    connection = schema_editor.connection
    if DRF_TABLE not in connection.introspection.table_names():
        return
    AuthToken = apps.get_model("knox", "AuthToken")
    quote = connection.ops.quote_name
    table = quote(DRF_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {quote('key')}, user_id FROM {table}")
        rows = cursor.fetchall()
    AuthToken.objects.bulk_create([
        AuthToken(digest=hashlib.sha512(key.encode()).hexdigest(),
                  token_key=key[:KNOX_TOKEN_KEY_LENGTH], user_id=user_id, expiry=None)
        for key, user_id in rows], ignore_conflicts=True)
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0001_initial"),
        ("knox", "0009_extend_authtoken_field"),
    ]

    operations = [migrations.RunPython(copy_tokens, migrations.RunPython.noop)]
