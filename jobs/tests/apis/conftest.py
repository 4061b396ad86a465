"""Fixtures of the fast lanes' tests (test_intake.py, test_status_lane.py): each module says
which lane with its own `make_apps`."""

import pytest

from jobs.tests.apis.lanes import api_client


@pytest.fixture
def apps(make_apps):
    """(the lane in front of a thread pool, the thread pool alone: the view's answers)."""
    return make_apps()


@pytest.fixture
def api_user(make_selfie):
    """A maker of users, each with an API token and a selfie."""
    return lambda **extra: api_client(make_selfie, **extra)
