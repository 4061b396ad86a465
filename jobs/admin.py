"""Admin for jobs, selfies, idempotency keys and the webhook inbox.

A job's status is never edited here: the actions call the same services as the API.
"""

from __future__ import annotations

import json
from datetime import timedelta

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from common.exceptions import ApplicationError
from jobs.models import (
    TERMINAL_STATUSES,
    IdempotencyKey,
    Job,
    JobStatus,
    Selfie,
    WebhookInbox,
)
from jobs.selectors import (
    job_timeline,
    job_video_url,
    jobs_with_timings,
    selfie_image_url,
    selfie_thumbnail_url,
)
from jobs.services.jobs import job_cancel_any, job_retry_any
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


def format_duration(value: timedelta | None) -> str:
    """1.234 s, 3 min 04.5 s, 2 h 03 min."""
    if value is None:
        return "-"
    seconds = value.total_seconds()
    if seconds < 60:
        return f"{seconds:.3f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {seconds % 60:04.1f} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


def format_time(value) -> str:
    """A timestamp to the millisecond, in the site's time zone."""
    if value is None:
        return "-"
    local = timezone.localtime(value)
    return f"{local:%Y-%m-%d %H:%M:%S}.{local.microsecond // 1000:03d} {local:%Z}"


def _so_far(job: Job) -> str:
    return f"{format_duration(timezone.now() - job.created_at)} so far"


class FailureCodeFilter(admin.SimpleListFilter):
    title = "failure code"
    parameter_name = "error_code"

    def lookups(self, request, model_admin):
        codes = (Job.objects.exclude(error_code="").order_by("error_code")
                 .values_list("error_code", flat=True).distinct())
        return [(code, code) for code in codes]

    def queryset(self, request, queryset):
        return queryset.filter(error_code=self.value()) if self.value() else queryset


@admin.register(Job)
class JobAdmin(ReadOnlyAdmin):
    list_display = ("id", "user", "style", "status", "stage", "provider", "created_at",
                    "total_duration", "time_in_queue", "time_to_first_progress")
    list_filter = ("status", "provider", ("created_at", admin.DateFieldListFilter),
                   FailureCodeFilter, "style")
    search_fields = ("id", "user__email", "provider_job_id")
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    actions = ["cancel_jobs", "retry_jobs"]
    change_form_template = "admin/jobs/job/change_form.html"
    fieldsets = [
        (None, {"fields": ("id", "user", "style", "status", "stage", "progress",
                           "error_code", "error_message", "retry_of")}),
        ("Selfie and video", {"fields": ("selfie_preview", "video")}),
        ("Provider", {"fields": ("provider", "provider_job_id", "attempts", "avoid_provider",
                                 "poll_count", "output_key", "output_url")}),
        ("Times", {"fields": ("created", "dispatched", "accepted", "first_progress",
                              "finished", "total_duration", "time_in_queue",
                              "time_to_first_progress")}),
        ("Timeline", {"fields": ("stage_durations", "timeline")}),
    ]

    class Media:
        css = {"all": ("jobs/admin.css",)}

    def get_queryset(self, request):
        return jobs_with_timings(super().get_queryset(request))

    def has_operate_permission(self, request) -> bool:
        """Retry and cancel change jobs (through the services): staff allowed to change jobs."""
        return request.user.has_perm("jobs.change_job")

    # --- list columns (annotated in jobs_with_timings: no query per row) ----------------------

    @admin.display(description="Total", ordering="total_time")
    def total_duration(self, job: Job) -> str:
        if job.total_time is None and not job.is_terminal:
            return _so_far(job)
        return format_duration(job.total_time)

    @admin.display(description="In queue", ordering="queue_time")
    def time_in_queue(self, job: Job) -> str:
        if job.queue_time is None and job.status == JobStatus.QUEUED:
            return _so_far(job)  # still waiting: during a spike, the number that matters
        return format_duration(job.queue_time)

    @admin.display(description="To first progress", ordering="first_progress_time")
    def time_to_first_progress(self, job: Job) -> str:
        return format_duration(job.first_progress_time)

    # --- the job page ----------------------------------------------------------------------

    @admin.display(description="Created")
    def created(self, job: Job) -> str:
        return format_time(job.created_at)

    @admin.display(description="Last dispatched")
    def dispatched(self, job: Job) -> str:
        return format_time(job.dispatched_at)

    @admin.display(description="Accepted by the provider")
    def accepted(self, job: Job) -> str:
        return format_time(job.accepted_at)

    @admin.display(description="First progress")
    def first_progress(self, job: Job) -> str:
        return format_time(job.first_progress_at)

    @admin.display(description="Finished")
    def finished(self, job: Job) -> str:
        return format_time(job.finished_at)

    @admin.display(description="Selfie")
    def selfie_preview(self, job: Job):
        thumbnail = selfie_thumbnail_url(job.selfie)  # signed: the bucket is private
        if not thumbnail:
            return "-"
        return format_html('<a href="{}" target="_blank" rel="noopener">'
                           '<img class="job-selfie" src="{}" alt="The selfie"></a>',
                           selfie_image_url(job.selfie), thumbnail)

    @admin.display(description="Video")
    def video(self, job: Job):
        url = job_video_url(job)  # signed, and only once the job has succeeded
        if not url:
            return "-"
        return format_html('<video class="job-video" src="{}" controls preload="metadata">'
                           '</video>', url)

    @admin.display(description="Time in each status")
    def stage_durations(self, job: Job):
        entries, per_status = self._timeline(job)
        if not per_status:
            return "-"
        current = entries[-1].event.status if entries[-1].ongoing else None
        return format_html_join(" · ", "{}: {}{}", (
            (JobStatus(status).label, format_duration(duration),
             " so far" if status == current else "")
            for status, duration in per_status.items()))

    @admin.display(description="Events")
    def timeline(self, job: Job):
        entries, _ = self._timeline(job)
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                                "<td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>", (
            (entry.event.seq, format_time(entry.event.at),
             format_duration(entry.duration) + (" so far" if entry.ongoing else ""),
             entry.event.get_status_display(), entry.event.stage,
             f"{entry.event.progress:.0%}", entry.event.source,
             json.dumps(entry.event.detail) if entry.event.detail else "")
            for entry in entries))
        return format_html(
            '<table class="job-timeline"><thead><tr><th>#</th><th>At</th><th>Lasted</th>'
            "<th>Status</th><th>Stage</th><th>Progress</th><th>Source</th><th>Detail</th>"
            "</tr></thead><tbody>{}</tbody></table>", rows)

    def _timeline(self, job: Job):
        # Both fields show the same timeline: read it once per page.
        if getattr(job, "_admin_timeline", None) is None:
            job._admin_timeline = job_timeline(job=job)
        return job._admin_timeline

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # The buttons post to their own URLs; a form posting `_retry` / `_cancel` here works too.
        if request.method == "POST" and "_retry" in request.POST:
            return self.retry_view(request, object_id)
        if request.method == "POST" and "_cancel" in request.POST:
            return self.cancel_view(request, object_id)
        job = self.get_object(request, object_id)
        operate = job is not None and self.has_operate_permission(request)
        extra_context = {
            **(extra_context or {}),
            "can_cancel_job": operate and job.status not in TERMINAL_STATUSES,
            "can_retry_job": operate and job.status in (JobStatus.FAILED, JobStatus.CANCELED),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    # --- Retry and Cancel: buttons on the job page, and list actions -------------------------

    def get_urls(self):
        return [
            path("<path:object_id>/retry/", self.admin_site.admin_view(self.retry_view),
                 name="jobs_job_retry"),
            path("<path:object_id>/cancel/", self.admin_site.admin_view(self.cancel_view),
                 name="jobs_job_cancel"),
            *super().get_urls(),
        ]

    def _operate(self, request, object_id, call):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_operate_permission(request):
            raise PermissionDenied
        job = self.get_object(request, object_id)
        if job is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        try:
            target, message = call(job)
        except ApplicationError as error:
            self.message_user(request, error.message, messages.WARNING)
            target = job
        else:
            self.message_user(request, message, messages.SUCCESS)
        return redirect("admin:jobs_job_change", target.pk)

    def retry_view(self, request, object_id):
        def retry(job):
            new = job_retry_any(job=job, source="admin")
            return new, f"Queued again as a new job, {new.id}."
        return self._operate(request, object_id, retry)

    def cancel_view(self, request, object_id):
        def cancel(job):
            return job_cancel_any(job=job, source="admin"), "Canceled."
        return self._operate(request, object_id, cancel)

    @admin.action(description="Cancel selected jobs", permissions=["operate"])
    def cancel_jobs(self, request, queryset):
        _run_each(self, request, queryset, "Canceled",
                  lambda job: job_cancel_any(job=job, source="admin"))

    @admin.action(description="Retry selected jobs (as a new job)", permissions=["operate"])
    def retry_jobs(self, request, queryset):
        _run_each(self, request, queryset, "Queued again",
                  lambda job: job_retry_any(job=job, source="admin"))


@admin.register(Selfie)
class SelfieAdmin(ReadOnlyAdmin):
    list_display = ("id", "preview", "user", "width", "height", "created_at")
    search_fields = ("id", "user__email")
    list_select_related = ("user",)
    readonly_fields = ("preview",)

    class Media:
        css = {"all": ("jobs/admin.css",)}
    actions = ["delete_selfies"]

    @admin.display(description="Thumbnail")
    def preview(self, selfie: Selfie):
        url = selfie_thumbnail_url(selfie)  # signed: the bucket is private
        return format_html('<img class="selfie-thumbnail" src="{}" alt="">', url) if url else "-"

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
    """Every delivery: verified or refused (and why), duplicates flagged, what it changed."""

    list_display = ("received", "provider", "event_id", "provider_job_id", "verified", "refusal",
                    "duplicate", "result")
    list_filter = ("provider", "verified", "duplicate", "result")
    search_fields = ("provider_job_id", "event_id")
    date_hierarchy = "received_at"
    fields = ("received", "provider", "event_id", "provider_job_id", "job", "verified",
              "refusal", "duplicate", "result", "pretty_event", "pretty_payload")

    class Media:
        css = {"all": ("jobs/admin.css",)}

    @admin.display(description="Received", ordering="received_at")
    def received(self, inbox: WebhookInbox) -> str:
        return format_time(inbox.received_at)

    @admin.display(description="Job")
    def job(self, inbox: WebhookInbox):
        job_id = inbox.provider_job_id and (
            Job.objects.filter(provider=inbox.provider, provider_job_id=inbox.provider_job_id)
            .values_list("pk", flat=True).first())
        if not job_id:
            return "-"
        return format_html('<a href="{}">{}</a>',
                           reverse("admin:jobs_job_change", args=[job_id]), job_id)

    @admin.display(description="Event (normalized)")
    def pretty_event(self, inbox: WebhookInbox):
        return _pretty_json(inbox.event)

    @admin.display(description="Payload")
    def pretty_payload(self, inbox: WebhookInbox):
        return _pretty_json(inbox.payload)


def _pretty_json(value) -> str:
    if not value:
        return "-"
    return format_html('<pre class="json-payload">{}</pre>',
                       json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False))


from jobs.dispatch import admin as dispatch_admin  # noqa: E402,F401  (registers ProviderState)
