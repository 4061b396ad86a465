"""Fixtures for the providers tests: clean registry and fake state, a scripted HTTP server."""

from __future__ import annotations

import pytest

from providers import registry
from providers.backends import fake
from providers.tests.support import ScriptedServer

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


@pytest.fixture(autouse=True)
def _isolated_providers():
    registry.reset()
    fake.reset()
    yield
    registry.reset()
    fake.reset()


@pytest.fixture
def server():
    scripted = ScriptedServer()
    yield scripted
    scripted.close()
