"""Seed benchmark users straight into the app's database: `python -m bench.seed --users N --out F`.

Signing up through the API would spend the benchmark's time (and the server's CPU) on Argon2.
Instead: users with an unusable password and an API token each, created with bulk_create, and
one Selfie per user pointing at a single upload of the sample image. Run it with the target's
environment (see Target.child_environment); it writes `[{token, selfie_id, user_id}]` as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

BATCH = 1000
SAMPLE = Path(__file__).resolve().parent.parent / "static" / "samples" / "selfie-astronaut.jpg"


def seed(*, users: int, prefix: str) -> list[dict]:
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.db import transaction
    from knox.crypto import create_token_string, hash_token
    from knox.models import AuthToken
    from knox.settings import CONSTANTS

    from jobs.models import Selfie
    from jobs.services.images import image_process

    User = get_user_model()
    processed = image_process(data=SAMPLE.read_bytes())
    base = f"selfies/bench/{prefix}-{uuid.uuid4().hex[:8]}"
    image = default_storage.save(f"{base}.jpg", ContentFile(processed.image))
    thumbnail = default_storage.save(f"{base}-thumb.jpg", ContentFile(processed.thumbnail))

    unusable = make_password(None)  # "!…": no password can match it
    emails = [f"{prefix}-{i}@bench.surge.local" for i in range(users)]
    rows = []
    for start in range(0, users, BATCH):
        chunk = emails[start:start + BATCH]
        with transaction.atomic():
            User.objects.bulk_create([User(email=email, password=unusable) for email in chunk])
            ids = dict(User.objects.filter(email__in=chunk).values_list("email", "id"))
            keys = [create_token_string() for _ in chunk]
            AuthToken.objects.bulk_create([
                AuthToken(digest=hash_token(key), token_key=key[:CONSTANTS.TOKEN_KEY_LENGTH],
                          user_id=ids[email], expiry=None) for key, email in zip(keys, chunk)])
            selfies = [Selfie(id=uuid.uuid4(), user_id=ids[email], image=image,
                              thumbnail=thumbnail, width=processed.width,
                              height=processed.height) for email in chunk]
            Selfie.objects.bulk_create(selfies)
        rows.extend({"token": key, "selfie_id": str(selfie.id), "user_id": ids[email]}
                    for key, email, selfie in zip(keys, chunk, selfies))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--prefix", default=f"bench-{uuid.uuid4().hex[:6]}",
                        help="email prefix, unique per seeding")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    started = time.monotonic()
    import django

    django.setup()
    rows = seed(users=args.users, prefix=args.prefix)
    args.out.write_text(json.dumps(rows))
    print(f"seeded {len(rows)} users in {time.monotonic() - started:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
