"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

import functools
import logging

import redis
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from common.s3 import s3_client

logger = logging.getLogger(__name__)
PROBE_TIMEOUT_SECONDS = 2.0


@never_cache
@require_GET
def healthz(request):
    """The process is alive; says nothing about its dependencies."""
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_redis() -> None:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=PROBE_TIMEOUT_SECONDS,
                                  socket_timeout=PROBE_TIMEOUT_SECONDS)
    try:
        client.ping()
    finally:
        client.close()


@functools.lru_cache(maxsize=4)
def _probe_client(endpoint_url: str, access_key: str, secret_key: str, region: str):
    """One per process: load balancers probe often, and a boto3 client is costly to build."""
    return s3_client(endpoint_url=endpoint_url, access_key=access_key, secret_key=secret_key,
                     region=region, timeout=PROBE_TIMEOUT_SECONDS)


def _check_s3() -> None:
    _probe_client(settings.S3_ENDPOINT_URL, settings.AWS_ACCESS_KEY_ID,
                  settings.AWS_SECRET_ACCESS_KEY, settings.S3_REGION).head_bucket(
        Bucket=settings.S3_BUCKET)


CHECKS = {"database": _check_database, "redis": _check_redis, "s3": _check_s3}


@never_cache
@require_GET
def readyz(request):
    """200 when the database, Redis and S3 all answer; else 503 naming what failed."""
    results = {}
    for name, check in CHECKS.items():
        try:
            check()
            results[name] = "ok"
        except Exception as error:  # any failure means "not ready"; say which and why
            logger.warning("readiness check %s failed: %s", name, error)
            results[name] = f"error: {type(error).__name__}"
    ready = all(value == "ok" for value in results.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", **results},
                        status=200 if ready else 503)
