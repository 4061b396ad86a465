"""Fixtures for the selfie and job tests: users, API clients, selfies and S3 listings."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connections
from rest_framework.test import APIClient

from accounts.models import User
from jobs import s3
from jobs.services.selfies import selfie_create_from_upload_file
from jobs.tests.images import SAMPLE_SELFIE


def _new_user() -> User:
    return User.objects.create_user(f"{uuid.uuid4().hex[:10]}@example.com", "x-Strong-Pass-99")


@pytest.fixture
def user(db):
    return _new_user()


@pytest.fixture
def other_user(db):
    return _new_user()


@pytest.fixture
def api(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def other_api(other_user):
    client = APIClient()
    client.force_authenticate(other_user)
    return client


@pytest.fixture
def write_lock_turns(monkeypatch) -> list:
    """One entry per turn this process takes of SQLite's write lock (common/sqlite): clear it,
    run what is measured, count."""
    wrapper = type(connections["default"])
    turns = []
    original = wrapper._take_write_lock

    def counting(self):
        if not self._holding_write_lock:
            turns.append(1)
        return original(self)
    monkeypatch.setattr(wrapper, "_take_write_lock", counting)
    return turns


@pytest.fixture
def make_selfie():
    def make(user, data: bytes = SAMPLE_SELFIE):
        return selfie_create_from_upload_file(
            user=user, file=SimpleUploadedFile("me.jpg", data, content_type="image/jpeg"))
    return make


@pytest.fixture
def selfie(user, make_selfie):
    return make_selfie(user)


def s3_keys(prefix: str) -> set[str]:
    """Every object under `prefix` in the real bucket."""
    pages = s3.client().get_paginator("list_objects_v2").paginate(Bucket=s3.bucket(),
                                                                    Prefix=prefix)
    return {item["Key"] for page in pages for item in page.get("Contents", [])}


def s3_read(key: str) -> bytes:
    return s3.client().get_object(Bucket=s3.bucket(), Key=key)["Body"].read()
