"""Liveness and readiness probes against the real database, Redis and S3."""

import subprocess

import pytest

from launcher.embedded import free_port, redis_server_command, wait_for_tcp
from project.testing.processes import stop_tree

pytestmark = pytest.mark.django_db


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_all_services_ok(client):
    response = client.get("/readyz")
    assert response.status_code == 200, response.json()
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok", "s3": "ok"}


def test_readyz_names_redis_when_it_stops(client, settings):
    port = free_port()
    server = subprocess.Popen(redis_server_command(port), stdout=subprocess.DEVNULL)
    try:
        wait_for_tcp(port)
        settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
        assert client.get("/readyz").status_code == 200
    finally:
        stop_tree(server)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["redis"].startswith("error")
    assert body["database"] == "ok" and body["s3"] == "ok"


def test_readyz_names_s3_when_the_bucket_is_missing(client, settings):
    settings.S3_BUCKET = "no-such-bucket-here"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["s3"].startswith("error")
