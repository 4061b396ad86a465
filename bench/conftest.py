"""Benchmarks reuse the engine fixtures (users, selfies) of the dispatch tests."""

from jobs.tests.dispatch.conftest import make_selfie, make_user  # noqa: F401
