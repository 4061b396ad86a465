"""Admin for jobs, selfies, idempotency keys and the webhook inbox.

A job's status is never edited here: the actions call the same services as the API.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html

from common.exceptions import ApplicationError
from jobs.models import IdempotencyKey, Job, JobEvent, Selfie, WebhookInbox
from jobs.selectors import selfie_thumbnail_url
from jobs.services.jobs import job_cancel_any, job_retry
from jobs.services.selfies import selfie_delete


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by the application."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


def _run_each(modeladmin, request, queryset, verb: str, call) -> None:
    """Call a service per object; report successes and refusals without stopping."""
    done, refused = 0, []
    for obj in queryset:
        try:
            call(obj)
            done += 1
        except ApplicationError as error:
            refused.append(f"{obj.pk}: {error.message}")
    if done:
        modeladmin.message_user(request, f"{verb} {done}.", messages.SUCCESS)
    for line in refused:
        modeladmin.message_user(request, line, messages.WARNING)


class JobEventInline(admin.TabularInline):
    model = JobEvent
    extra = 0
    can_delete = False
    ordering = ("seq",)
    fields = readonly_fields = ("seq", "status", "stage", "progress", "source", "detail", "at")

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "status", "stage", "provider", "progress", "created_at")
    list_filter = ("status", "provider", "style")
    search_fields = ("id", "user__email", "provider_job_id")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    inlines = [JobEventInline]
    actions = ["cancel_jobs", "retry_jobs"]

    @admin.action(description="Cancel selected jobs")
    def cancel_jobs(self, request, queryset):
        _run_each(self, request, queryset, "Canceled",
                  lambda job: job_cancel_any(job=job, source="admin"))

    @admin.action(description="Retry selected jobs (as a new job)")
    def retry_jobs(self, request, queryset):
        _run_each(self, request, queryset, "Queued again",
                  lambda job: job_retry(user=job.user, job_id=job.id))


@admin.register(Selfie)
class SelfieAdmin(ReadOnlyAdmin):
    list_display = ("id", "preview", "user", "width", "height", "created_at")
    search_fields = ("id", "user__email")
    list_select_related = ("user",)
    readonly_fields = ("preview",)
    actions = ["delete_selfies"]

    @admin.display(description="Thumbnail")
    def preview(self, selfie: Selfie):
        url = selfie_thumbnail_url(selfie)  # signed: the bucket is private
        return format_html('<img src="{}" alt="" style="height:80px">', url) if url else "-"

    @admin.action(description="Delete selected selfies and their files")
    def delete_selfies(self, request, queryset):
        _run_each(self, request, queryset, "Deleted",
                  lambda selfie: selfie_delete(user=selfie.user, selfie_id=selfie.id))


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(ReadOnlyAdmin):
    list_display = ("key", "user", "job", "created_at")
    search_fields = ("key", "user__email", "job__id")
    list_select_related = ("user",)


@admin.register(WebhookInbox)
class WebhookInboxAdmin(ReadOnlyAdmin):
    list_display = ("provider", "event_id", "provider_job_id", "result", "received_at")
    list_filter = ("provider", "result")
    search_fields = ("event_id", "provider_job_id")
    date_hierarchy = "received_at"

from jobs.dispatch import admin as dispatch_admin  # noqa: E402,F401  (registers ProviderState)
