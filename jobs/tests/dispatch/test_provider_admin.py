"""On call during a spike: the admin shows each provider's limit, slots and circuit, and edits
the limit live."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import User
from jobs.dispatch import reconciler
from jobs.dispatch.engine import available_providers
from jobs.dispatch.limits import forget_cached_limits, provider_limits
from jobs.models import BreakerState, Job, ProviderState
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


def test_priority_edited_in_the_admin_reorders_providers(admin_client, two_providers):
    """Giving the spare a lower priority number makes it the first choice at once."""
    assert [name for name, _ in available_providers()] == ["main", "spare"]
    admin_client.get("/admin/jobs/providerstate/")  # creates the rows
    spare = ProviderState.objects.get(name="spare")
    response = admin_client.post(f"/admin/jobs/providerstate/{spare.pk}/change/",
                                 {"enabled": "on", "priority": "1", "keep_warm_idle": "60",
                                  "paused_until_0": "", "paused_until_1": ""})
    assert response.status_code == 302, response.content[:2000]
    assert [name for name, _ in available_providers()] == ["spare", "main"]


def test_keep_warm_window_edited_in_the_admin_applies(two_providers, settings, monkeypatch):
    """A provider's own keep-warm window overrides KEEP_WARM_IDLE on the reconciler's next pass."""
    settings.KEEP_WARM_IDLE = 3600
    now = timezone.now()
    for name in ("main", "spare"):
        ProviderState.objects.create(name=name, last_submit_at=now - timedelta(seconds=120))
    ProviderState.objects.filter(name="spare").update(keep_warm_idle=60)
    enqueued = []
    monkeypatch.setattr(reconciler, "enqueue", lambda *args, **kwargs: enqueued.append(args))
    user = User.objects.create_user("warm@example.com", "x-Strong-Pass-99")
    Job.objects.create(user=user, style="s")  # demand is expected
    reconciler.keep_warm(now)
    assert enqueued == [("jobs.tasks.warm_up_provider", "spare")]


def test_pause_and_resume_actions(admin_client, two_providers):
    """Pause takes a provider out of dispatch; resume puts it back and clears a 429 pause."""
    main = ProviderState.objects.create(name="main")
    admin_client.post("/admin/jobs/providerstate/", {"action": "pause",
                                                     "_selected_action": [main.pk]})
    assert [name for name, _ in available_providers()] == ["spare"]
    ProviderState.objects.filter(pk=main.pk).update(
        paused_until=timezone.now() + timedelta(hours=1), rate_limit_streak=4)
    admin_client.post("/admin/jobs/providerstate/", {"action": "resume",
                                                     "_selected_action": [main.pk]})
    main.refresh_from_db()
    assert main.enabled and main.rate_limit_streak == 0
    assert [name for name, _ in available_providers()] == ["main", "spare"]


def test_provider_states_cannot_be_deleted(admin_client, two_providers):
    """No delete action and no delete page: a configured provider always keeps its row."""
    page = admin_client.get("/admin/jobs/providerstate/")
    assert b"delete_selected" not in page.content
    assert b"429s 5/60 min" in page.content and b"Slots in use / limit" in page.content
    state = ProviderState.objects.get(name="main")
    assert admin_client.get(f"/admin/jobs/providerstate/{state.pk}/delete/").status_code == 403
