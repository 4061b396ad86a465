"""On call during a spike: the admin shows each provider's limit, slots and circuit, and edits
the limit live."""

import pytest

from jobs.dispatch.limits import forget_cached_limits, provider_limits
from jobs.models import BreakerState, ProviderState
from providers.conf import DEFAULTS

pytestmark = pytest.mark.django_db


@pytest.fixture
def two_providers(settings):
    base = {"BACKEND": "providers.backends.local.LocalBackend", "BASE_URL": "http://127.0.0.1:9"}
    settings.PROVIDERS = {"main": {**base, "MAX_CONCURRENCY": 5, "PRIORITY": 10},
                          "spare": {**base, "MAX_CONCURRENCY": 3, "PRIORITY": 20}}


def test_every_configured_provider_is_listed_with_its_live_state(admin_client, two_providers):
    page = admin_client.get("/admin/jobs/providerstate/")
    assert page.status_code == 200
    assert set(ProviderState.objects.values_list("name", flat=True)) == {"main", "spare"}
    assert b"Slots in use" in page.content


def test_raising_a_limit_applies_at_once(admin_client, two_providers):
    assert provider_limits()["main"] == 5
    state = ProviderState.objects.create(name="main")
    response = admin_client.post(f"/admin/jobs/providerstate/{state.pk}/change/",
                                 {"enabled": "on", "max_concurrency": "12",
                                  "paused_until_0": "", "paused_until_1": ""})
    assert response.status_code == 302, response.content[:2000]
    assert provider_limits()["main"] == 12


def test_close_circuit_action(admin_client, two_providers):
    state = ProviderState.objects.create(name="main", breaker_state=BreakerState.OPEN,
                                         consecutive_failures=7)
    admin_client.post("/admin/jobs/providerstate/", {"action": "close_circuit",
                                                     "_selected_action": [state.pk]})
    state.refresh_from_db()
    assert state.breaker_state == BreakerState.CLOSED and state.consecutive_failures == 0


def test_a_provider_without_a_limit_gets_the_one_default(admin_client, settings):
    """Without MAX_CONCURRENCY the dispatcher and the admin both use the providers' default."""
    settings.PROVIDERS = {"plain": {"BACKEND": "local", "BASE_URL": "http://127.0.0.1:9"}}
    forget_cached_limits()
    assert provider_limits() == {"plain": DEFAULTS["MAX_CONCURRENCY"]}
    state = ProviderState.objects.create(name="plain")
    page = admin_client.get(f"/admin/jobs/providerstate/{state.pk}/change/")
    assert page.status_code == 200
    configured = page.content.split(b"Configured MAX_CONCURRENCY", 1)[1][:300]
    assert f'<div class="readonly">{DEFAULTS["MAX_CONCURRENCY"]}</div>'.encode() in configured
