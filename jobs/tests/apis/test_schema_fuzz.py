"""A bounded schemathesis run against the web server as `make run` starts it: no 5xx, all as documented."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from jobs.tests.images import SAMPLE_SELFIE
from project.testing.live_app import LiveApp

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance, negative_data_rejection]


@pytest.fixture(scope="module")
def live_app(django_db_setup):
    app = LiveApp()
    yield app
    app.stop()


@pytest.fixture
def token(live_app) -> str:
    """A signed-up user with one selfie, so ids in paths sometimes exist."""
    credentials = {"email": "fuzz@example.com", "password": "Fuzz-Pass-12345!"}
    token = httpx.post(f"{live_app.url}/api/v1/auth/signup/", json=credentials,
                       timeout=10).json()["token"]
    httpx.post(f"{live_app.url}/api/v1/selfies/", files={"image": ("me.jpg", SAMPLE_SELFIE)},
               headers={"Authorization": f"Token {token}"}, timeout=30).raise_for_status()
    return token


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
                         ids=["positive", "negative"])
def test_every_operation_answers_as_documented(live_app, token, mode):
    schema = schemathesis.openapi.from_url(f"{live_app.url}/api/schema/?format=json")
    # Logging out would revoke the token the rest of the run uses.
    operations = [result.ok() for result in
                  schema.exclude(operation_id="auth_logout").get_all_operations()]
    assert len(operations) > 20
    failures = []
    for operation in operations:
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=25, derandomize=True, database=None, deadline=None,
                  suppress_health_check=list(HealthCheck), phases=[Phase.generate])
        def check(case):
            case.call_and_validate(headers={"Authorization": f"Token {token}"},
                                   checks=CHECKS, timeout=30)
        try:
            check()
        except Unsatisfiable:  # nothing to negate: no parameters and no body
            continue
        except Exception as error:  # every failing operation is reported, not just the first
            failures.append(f"{operation.label}: {error}")
    assert not failures, "\n\n".join(failures)
