"""Fixtures for notifications tests: users, jobs created as the API creates them, websockets."""

from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token

from accounts.models import User
from jobs.models import Job, Selfie
from jobs.services.jobs import job_enqueue

PASSWORD = "neon-Skyline-4821"


@pytest.fixture
def user(db):
    return User.objects.create_user("ada@example.com", PASSWORD)


@pytest.fixture
def other_user(db):
    return User.objects.create_user("bob@example.com", PASSWORD)


@pytest.fixture
def token(user):
    return Token.objects.create(user=user).key


def make_job(user, *, style: str = "cyberpunk-hero", width: int = 512, height: int = 640) -> Job:
    """A queued job with its first event, committed the way job_create commits it."""
    selfie = Selfie.objects.create(user=user, image=f"selfies/{user.pk}.jpg",
                                   thumbnail=f"selfies/{user.pk}-thumb.jpg", width=width,
                                   height=height)
    return job_enqueue(user=user, selfie=selfie, style=style)


@pytest.fixture
def job_factory():
    return make_job
