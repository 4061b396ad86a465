"""Admin for providers: live limits, pause, circuit breaker, slots in use — what on-call needs."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.utils import timezone

from jobs.dispatch import limits, slots
from jobs.dispatch.limits import forget_cached_limits, provider_limits
from jobs.dispatch.wakeup import request_dispatch
from jobs.models import BreakerState, Job, JobStatus, ProviderState


@admin.register(ProviderState)
class ProviderStateAdmin(admin.ModelAdmin):
    list_display = ["name", "enabled", "limit", "slots_in_use", "queued_jobs", "breaker_state",
                    "consecutive_failures", "paused_until", "last_submit_at"]
    list_editable = ["enabled"]
    fields = ["name", "enabled", "max_concurrency", "configured_limit", "breaker_state",
              "consecutive_failures", "opened_at", "paused_until", "rate_limit_streak",
              "last_submit_at", "last_warmup_at", "updated_at"]
    readonly_fields = ["name", "configured_limit", "breaker_state", "consecutive_failures",
                       "opened_at", "rate_limit_streak", "last_submit_at", "last_warmup_at",
                       "updated_at"]
    actions = ["close_circuit", "resume_now"]

    def get_queryset(self, request):
        for name in settings.PROVIDERS:  # every configured provider has a row to edit
            ProviderState.objects.get_or_create(name=name)
        return super().get_queryset(request)

    def has_add_permission(self, request):
        return False

    @admin.display(description="Limit")
    def limit(self, obj):
        return provider_limits().get(obj.name, "disabled")

    @admin.display(description="Configured MAX_CONCURRENCY")
    def configured_limit(self, obj):
        if obj.name not in settings.PROVIDERS:
            return "not configured"
        return limits.configured_limit(obj.name)

    @admin.display(description="Slots in use")
    def slots_in_use(self, obj):
        return slots.in_use(provider=obj.name)

    @admin.display(description="Queued (all providers)")
    def queued_jobs(self, obj):
        return Job.objects.filter(status=JobStatus.QUEUED).count()

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        forget_cached_limits()
        request_dispatch()  # a raised limit or a re-enabled provider takes jobs at once

    @admin.action(description="Close the circuit (provider is healthy again)")
    def close_circuit(self, request, queryset):
        queryset.update(breaker_state=BreakerState.CLOSED, consecutive_failures=0,
                        opened_at=None)
        request_dispatch()
        messages.success(request, "Circuit closed; new jobs go to these providers again.")

    @admin.action(description="Resume now (clear the 429 pause)")
    def resume_now(self, request, queryset):
        queryset.update(paused_until=timezone.now(), rate_limit_streak=0)
        request_dispatch()
        messages.success(request, "Pause cleared.")
