"""Admin for providers: live limits, priority, keep-warm, pause, circuit breaker, slots in use.

Edits apply on every process within a second or two (jobs/dispatch/limits.py caches for one
second; the reconciler reads keep-warm on each pass). Provider states are never deleted: a
configured provider always has its row.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.utils import timezone

from common.memo import memoize_for
from jobs.dispatch import limits, slots
from jobs.dispatch.limits import forget_cached_limits, provider_limits
from jobs.dispatch.wakeup import request_dispatch
from jobs.models import BreakerState, ProviderState
from jobs.ops import counters
from providers.registry import get_config

ERROR_CLASSES = ("5xx", "timeout", "4xx")


@memoize_for(1.0)
def _recent_responses() -> tuple[dict, dict]:
    """Provider response counts over the last 5 and 60 minutes (one Redis read per page)."""
    return (counters.window(counters.PROVIDER_RESPONSES, minutes=5),
            counters.window(counters.PROVIDER_RESPONSES, minutes=60))


@admin.register(ProviderState)
class ProviderStateAdmin(admin.ModelAdmin):
    # Short columns: the list fits a 1280 px screen.
    list_display = ["name", "enabled", "priority_shown", "slots", "rate_limited", "errors",
                    "breaker_state", "paused_until"]
    list_editable = ["enabled"]
    fields = ["name", "enabled", "priority", "configured_priority", "max_concurrency",
              "configured_limit", "keep_warm_idle", "breaker_state", "consecutive_failures",
              "opened_at", "paused_until", "rate_limit_streak", "last_submit_at",
              "last_warmup_at", "updated_at"]
    readonly_fields = ["name", "configured_priority", "configured_limit", "breaker_state",
                       "consecutive_failures", "opened_at", "rate_limit_streak",
                       "last_submit_at", "last_warmup_at", "updated_at"]
    actions = ["close_circuit", "pause", "resume"]

    def get_queryset(self, request):
        for name in settings.PROVIDERS:  # every configured provider has a row to edit
            ProviderState.objects.get_or_create(name=name)
        return super().get_queryset(request)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False  # the dispatcher recreates the row; deleting would only lose settings

    @admin.display(description="Priority")
    def priority_shown(self, obj):
        return obj.priority if obj.priority is not None else self.configured_priority(obj)

    @admin.display(description="Configured PRIORITY")
    def configured_priority(self, obj):
        if obj.name not in settings.PROVIDERS:
            return "not configured"
        return get_config(obj.name)["PRIORITY"]

    @admin.display(description="Configured MAX_CONCURRENCY")
    def configured_limit(self, obj):
        if obj.name not in settings.PROVIDERS:
            return "not configured"
        return limits.configured_limit(obj.name)

    @admin.display(description="Slots in use / limit")
    def slots(self, obj):
        limit = provider_limits().get(obj.name)
        return f"{slots.in_use(provider=obj.name)} / {limit if limit is not None else 'off'}"

    @admin.display(description="429s 5/60 min")
    def rate_limited(self, obj):
        last_5, last_60 = _recent_responses()
        return f"{last_5.get(f'{obj.name}:429', 0)} / {last_60.get(f'{obj.name}:429', 0)}"

    @admin.display(description="Errors 5/60 min")
    def errors(self, obj):
        last_5, last_60 = _recent_responses()
        return " / ".join(str(sum(window.get(f"{obj.name}:{cls}", 0) for cls in ERROR_CLASSES))
                          for window in (last_5, last_60))

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        self._changed()

    def _changed(self) -> None:
        forget_cached_limits()  # this process at once; the others within limits.CACHE_SECONDS
        request_dispatch()  # a raised limit or a re-enabled provider takes jobs at once

    @admin.action(description="Close the circuit (provider is healthy again)")
    def close_circuit(self, request, queryset):
        queryset.update(breaker_state=BreakerState.CLOSED, consecutive_failures=0,
                        opened_at=None)
        self._changed()
        messages.success(request, "Circuit closed; new jobs go to these providers again.")

    @admin.action(description="Pause (no new jobs; jobs in flight finish)")
    def pause(self, request, queryset):
        queryset.update(enabled=False)
        self._changed()
        messages.success(request, "Paused; their queued work goes to the other providers.")

    @admin.action(description="Resume (take jobs again, clear any 429 pause)")
    def resume(self, request, queryset):
        queryset.update(enabled=True, paused_until=timezone.now(), rate_limit_streak=0)
        self._changed()
        messages.success(request, "Resumed.")
