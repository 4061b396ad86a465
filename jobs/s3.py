"""S3 access for this process: one shared client, signed URLs reused, each user's key layout.

Building a boto3 client loads and parses botocore's JSON service models (tens of
milliseconds of CPU). django-storages keeps one per thread, which under load means one per
request; here one client serves every thread of the process (boto3 clients are thread-safe).
Signing a URL costs an HMAC chain per call, and pages and polls ask for the same few URLs
again and again, so a signed URL is handed out again until half of its lifetime has passed.

Every object of a user lies under `<kind>/<user id>/` for one of USER_PREFIXES (selfies and
their thumbnails, raw direct uploads, videos), so deleting an account can sweep them all.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections import OrderedDict

from botocore.exceptions import ClientError
from django.conf import settings

from common.s3 import s3_client

logger = logging.getLogger(__name__)
SIGNED_URL_CACHE_SIZE = 20_000
SELFIES, UPLOADS, VIDEOS = "selfies", "uploads", "videos"
USER_PREFIXES = (SELFIES, UPLOADS, VIDEOS)
DELETE_BATCH = 1000  # S3's DeleteObjects limit


@functools.lru_cache(maxsize=4)
def _client(endpoint_url: str, access_key: str, secret_key: str, region: str):
    return s3_client(endpoint_url=endpoint_url, access_key=access_key, secret_key=secret_key,
                     region=region, timeout=10.0)


def client():
    """The process's client for these settings."""
    return _client(settings.S3_ENDPOINT_URL, settings.AWS_ACCESS_KEY_ID,
                   settings.AWS_SECRET_ACCESS_KEY, settings.S3_REGION)


def bucket() -> str:
    return settings.S3_BUCKET


def warm_up() -> None:
    """Build this process's client and sign once, at start. Done lazily, the first request,
    poll or copy of a long-lived process parsed botocore's JSON models and endpoint rules
    (hundreds of ms of CPU holding the GIL) while a spike queued behind it; in the copier a
    thread holding the database's write lock waited for that GIL. Needs no network."""
    client().generate_presigned_url("get_object", Params={"Bucket": bucket(), "Key": "warm-up"},
                                    ExpiresIn=60)


_signed: OrderedDict[tuple, tuple[str, float]] = OrderedDict()
_signed_lock = threading.Lock()


def signed_url(key: str, *, seconds: int | None = None, content_type: str | None = None,
               disposition: str | None = None) -> str:
    """A presigned GET URL of `key`, valid for at least half of `seconds` (SIGNED_URL_SECONDS);
    S3 answers with `content_type` and `disposition` (Content-Disposition) when given."""
    seconds = seconds or settings.SIGNED_URL_SECONDS
    cache_key = (settings.S3_ENDPOINT_URL, settings.S3_BUCKET, key, seconds, content_type,
                 disposition)
    now = time.monotonic()
    with _signed_lock:
        cached = _signed.get(cache_key)
        if cached is not None and cached[1] > now:
            _signed.move_to_end(cache_key)
            return cached[0]
    params = {"Bucket": settings.S3_BUCKET, "Key": key}
    if content_type:
        params["ResponseContentType"] = content_type
    if disposition:
        params["ResponseContentDisposition"] = disposition
    url = client().generate_presigned_url("get_object", Params=params, ExpiresIn=seconds)
    with _signed_lock:
        _signed[cache_key] = (url, now + seconds / 2)
        while len(_signed) > SIGNED_URL_CACHE_SIZE:
            _signed.popitem(last=False)
    return url


def put_file(key: str, fileobj, *, content_type: str) -> None:
    """Store `fileobj` at `key` in one request with the process's client: django-storages'
    save() asks S3 whether the name is free first and builds a boto3 resource per object
    (its class is made anew each time: a tenth of the dispatcher's CPU in a drain)."""
    client().put_object(Bucket=bucket(), Key=key, Body=fileobj, ContentType=content_type)


def object_size(key: str) -> int | None:
    """The stored object's size in bytes (one HEAD), or None when nothing is stored there."""
    try:
        return client().head_object(Bucket=bucket(), Key=key)["ContentLength"]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return None
        raise


def user_prefix(kind: str, user_id) -> str:
    """Where a user's objects of one kind (SELFIES, UPLOADS, VIDEOS) live: `videos/42/`."""
    return f"{kind}/{user_id}/"


def keys_under(prefix: str) -> list[str]:
    """Every key under `prefix`, through all pages of the listing."""
    pages = client().get_paginator("list_objects_v2").paginate(Bucket=bucket(), Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def delete_keys(keys) -> list[str]:
    """Delete these keys (absent ones count as deleted); returns the keys S3 refused."""
    keys = sorted(set(keys))
    failed: list[str] = []
    for start in range(0, len(keys), DELETE_BATCH):
        batch = keys[start:start + DELETE_BATCH]
        answer = client().delete_objects(Bucket=bucket(), Delete={
            "Objects": [{"Key": key} for key in batch], "Quiet": True})
        failed += [error["Key"] for error in answer.get("Errors", [])]
    if failed:
        logger.warning("s3://%s: could not delete %d objects, e.g. %s", bucket(), len(failed),
                       failed[0])
    return failed
