"""The boto3 S3 client for presigned uploads and raw object access, built from settings."""

from __future__ import annotations

import functools

from django.conf import settings

from project.storage_setup import s3_client


@functools.lru_cache(maxsize=4)
def _client(endpoint_url: str, access_key: str, secret_key: str, region: str):
    return s3_client(endpoint_url=endpoint_url, access_key=access_key, secret_key=secret_key,
                     region=region, timeout=10.0)


def client():
    """A shared client (boto3 clients are thread-safe; creating one costs ~50 ms)."""
    return _client(settings.S3_ENDPOINT_URL, settings.AWS_ACCESS_KEY_ID,
                   settings.AWS_SECRET_ACCESS_KEY, settings.S3_REGION)


def bucket() -> str:
    return settings.S3_BUCKET
