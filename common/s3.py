"""S3 clients from explicit settings, and creating the media bucket on first start (SeaweedFS or AWS)."""

from __future__ import annotations

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError


def s3_client(*, endpoint_url: str | None, access_key: str | None, secret_key: str | None,
              region: str | None = None, timeout: float = 5.0):
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url or None,
        aws_access_key_id=access_key or None,
        aws_secret_access_key=secret_key or None,
        region_name=region or "us-east-1",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                      connect_timeout=timeout, read_timeout=timeout,
                      retries={"max_attempts": 1}),
    )


def ensure_bucket(*, endpoint_url: str | None, bucket: str, access_key: str | None,
                  secret_key: str | None, region: str | None = None) -> bool:
    """Create `bucket` unless it exists; returns True when it was created."""
    client = s3_client(endpoint_url=endpoint_url, access_key=access_key, secret_key=secret_key,
                       region=region)
    try:
        client.head_bucket(Bucket=bucket)
        return False
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket", "NotFound"):
            raise
    client.create_bucket(Bucket=bucket)
    return True
