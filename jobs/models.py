"""Selfies, jobs and their timelines. Data and constraints only; the logic is in services."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Selfie(models.Model):
    """A validated, re-encoded portrait in S3 (metadata stripped), with a thumbnail."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="selfies")
    image = models.FileField(max_length=255)
    thumbnail = models.FileField(max_length=255)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Selfie {self.id} of {self.user_id}"


class Upload(models.Model):
    """A presigned direct-to-S3 upload slot; becomes a Selfie once validated."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="uploads")
    key = models.CharField(max_length=255, unique=True)
    content_type = models.CharField(max_length=50)
    size = models.PositiveIntegerField()
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Upload {self.id}"


class JobStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    DISPATCHING = "dispatching", "Dispatching"
    SUBMITTED = "submitted", "Submitted"
    WARMING = "warming", "Warming up"
    RENDERING = "rendering", "Rendering"
    SAVING = "saving", "Saving"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"
    CANCELED = "canceled", "Canceled"


TERMINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED})
ACTIVE_STATUSES = frozenset(set(JobStatus) - TERMINAL_STATUSES)
# The provider has the job (it may be polled, fail over, or be canceled there).
AT_PROVIDER_STATUSES = frozenset({JobStatus.SUBMITTED, JobStatus.WARMING, JobStatus.RENDERING})
# The job occupies one of its provider's concurrency slots.
SLOT_HOLDING_STATUSES = AT_PROVIDER_STATUSES | {JobStatus.DISPATCHING}
# Forward order of the state machine; terminal states share the last rank.
STATUS_RANK = {
    JobStatus.QUEUED: 0, JobStatus.DISPATCHING: 1, JobStatus.SUBMITTED: 2,
    JobStatus.WARMING: 3, JobStatus.RENDERING: 4, JobStatus.SAVING: 5,
    JobStatus.SUCCEEDED: 6, JobStatus.FAILED: 6, JobStatus.CANCELED: 6,
}


class Job(models.Model):
    """One render of one selfie in one style. Its status changes only through job_transition."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                             related_name="jobs")
    selfie = models.ForeignKey(Selfie, null=True, blank=True, on_delete=models.SET_NULL,
                               related_name="jobs")
    style = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=JobStatus.choices,
                              default=JobStatus.QUEUED)
    stage = models.CharField(max_length=200, blank=True, help_text="What the user is told.")
    progress = models.FloatField(default=0.0)
    provider = models.CharField(max_length=64, blank=True)
    provider_job_id = models.CharField(max_length=200, blank=True, db_index=True)
    attempts = models.PositiveIntegerField(default=0, help_text="Submissions to a provider.")
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.CharField(max_length=500, blank=True)
    output_key = models.CharField(max_length=255, blank=True, help_text="The video in our S3.")
    output_url = models.CharField(max_length=2000, blank=True,
                                 help_text="The provider's result URL, before mirroring.")
    poster_key = models.CharField(max_length=255, blank=True,
                                  help_text="A JPEG frame of the video in our S3.")
    share_token = models.CharField(
        max_length=64, unique=True, null=True, blank=True,
        help_text="The public page /v/<token>/ while the owner shares the video; none: private.")
    retry_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="retries")
    last_seq = models.PositiveIntegerField(default=0)

    # Dispatch bookkeeping: the database, not the task broker, is the source of truth.
    line_key = models.BigIntegerField(
        default=0, help_text="Place in the waiting line (jobs/line.py): round, then arrival.")
    not_before = models.DateTimeField(null=True, blank=True,
                                      help_text="Do not dispatch or poll before this time.")
    lease_until = models.DateTimeField(null=True, blank=True,
                                       help_text="A worker owns the next step until then.")
    last_provider_news_at = models.DateTimeField(null=True, blank=True)
    poll_count = models.PositiveIntegerField(default=0)
    copy_attempts = models.PositiveIntegerField(
        default=0, help_text="Copies of the result started; only the latest may succeed the job.")
    avoid_provider = models.CharField(
        max_length=64, blank=True, help_text="Failed here last time: try the others first.")
    cancel_requested = models.BooleanField(default=False)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True,
                                       help_text="When the provider accepted the job.")
    first_progress_at = models.DateTimeField(null=True, blank=True)
    warming_at = models.DateTimeField(
        null=True, blank=True, help_text="When the provider last said it was booting a cold model.")
    finished_at = models.DateTimeField(null=True, blank=True)
    # The first time estimate given once the job was sent (jobs/presenter.py), kept to be
    # compared with the real finish (`python -m bench eta`).
    eta_promised_at = models.DateTimeField(
        null=True, blank=True, help_text="When the first estimate after dispatch was made.")
    eta_promised_seconds = models.FloatField(
        null=True, blank=True, help_text="That estimate: seconds until the video is ready.")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["user", "-created_at"], name="job_user_recent"),
            models.Index(fields=["status", "created_at"], name="job_status_created"),
            models.Index(fields=["provider", "status"], name="job_provider_status"),
            models.Index(fields=["status", "line_key"], name="job_status_line"),
            models.Index(fields=["user", "status"], name="job_user_status"),
            # The operations dashboard's last-hour windows (jobs/ops/selectors.py).
            models.Index(fields=["created_at"], name="job_created"),
            models.Index(fields=["status", "finished_at"], name="job_status_finished"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(progress__gte=0) & Q(progress__lte=1),
                                   name="job_progress_0_to_1"),
        ]

    def __str__(self) -> str:
        return f"Job {self.id} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class JobEvent(models.Model):
    """Append-only timeline of a job; `seq` counts from 1 per job with no gaps."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    status = models.CharField(max_length=16, choices=JobStatus.choices)
    stage = models.CharField(max_length=200, blank=True)
    progress = models.FloatField(default=0.0)
    detail = models.JSONField(default=dict, blank=True)
    source = models.CharField(max_length=32, help_text="Who caused it: api, webhook, poller …")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job", "seq"]
        constraints = [models.UniqueConstraint(fields=["job", "seq"], name="job_event_seq_unique")]

    def __str__(self) -> str:
        return f"{self.job_id}#{self.seq} {self.status}"


class IdempotencyKey(models.Model):
    """An Idempotency-Key a user sent with a job submission, kept for 24 hours."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    job = models.ForeignKey(Job, null=True, blank=True, on_delete=models.CASCADE)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "key"],
                                               name="idempotency_key_per_user")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.key}"


class BreakerState(models.TextChoices):
    CLOSED = "closed", "Closed (healthy)"
    OPEN = "open", "Open (failing, skipped)"
    HALF_OPEN = "half_open", "Half-open (probing)"


class ProviderState(models.Model):
    """Live, admin-editable state of one configured provider: limits, pause, circuit breaker."""

    name = models.CharField(max_length=64, unique=True)
    enabled = models.BooleanField(default=True, help_text="Untick to stop sending new jobs.")
    max_concurrency = models.PositiveIntegerField(
        null=True, blank=True, help_text="Overrides MAX_CONCURRENCY from settings when set.")
    priority = models.PositiveIntegerField(
        null=True, blank=True, help_text="Overrides PRIORITY from settings when set (lower first).")
    keep_warm_idle = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Seconds idle before a keep-warm ping; overrides KEEP_WARM_IDLE when set.")
    paused_until = models.DateTimeField(null=True, blank=True,
                                        help_text="Set after a 429: no submissions until then.")
    rate_limit_streak = models.PositiveIntegerField(default=0)
    breaker_state = models.CharField(max_length=16, choices=BreakerState.choices,
                                     default=BreakerState.CLOSED)
    consecutive_failures = models.PositiveIntegerField(default=0)
    opened_at = models.DateTimeField(null=True, blank=True)
    last_submit_at = models.DateTimeField(null=True, blank=True)
    last_warmup_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class WebhookInbox(models.Model):
    """Every webhook delivery: verified ones are unique on (provider, event id) and applied
    once; a duplicate delivery and a refused one (bad signature or body) are kept too, for
    operators, and change nothing."""

    provider = models.CharField(max_length=64)
    event_id = models.CharField(max_length=255, blank=True)
    provider_job_id = models.CharField(max_length=200, blank=True, db_index=True)
    payload = models.JSONField(default=dict)
    event = models.JSONField(default=dict, help_text="The verified event, normalized.")
    result = models.CharField(
        max_length=16, blank=True,
        help_text="applied / ignored; 'unknown' until the job's submission is recorded (it is "
                  "applied then); 'orphaned' if its job moved on before adopting it; 'duplicate' or "
                  "'refused' for deliveries that change nothing.")
    reference = models.CharField(
        max_length=64, blank=True,
        help_text="The submission our webhook URL names (job id.attempt): finds one whose "
                  "answer was lost.")
    verified = models.BooleanField(default=True, help_text="The signature and body checked out.")
    refusal = models.CharField(max_length=300, blank=True, help_text="Why it was refused.")
    duplicate = models.BooleanField(
        default=False, help_text="Another delivery of an event already received.")
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "webhook inbox"
        verbose_name_plural = "webhook inboxes"
        constraints = [models.UniqueConstraint(
            fields=["provider", "event_id"], condition=Q(verified=True, duplicate=False),
            name="webhook_inbox_unique_event")]
        indexes = [models.Index(fields=["provider", "provider_job_id", "result"],
                                name="webhook_inbox_waiting"),
                   models.Index(fields=["result", "reference"], name="webhook_inbox_reference")]

    def __str__(self) -> str:
        return f"{self.provider}:{self.event_id or self.pk}"
