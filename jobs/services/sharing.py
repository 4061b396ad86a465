"""Sharing a finished video: its poster frame, and the public link the owner turns on and off."""

from __future__ import annotations

import io
import logging
import secrets
import tempfile

from botocore.exceptions import BotoCoreError, ClientError
from django.core.files.storage import default_storage
from django.db import transaction

from common.exceptions import ApplicationError
from common.video_probe import NotAVideo, poster_jpeg
from jobs import s3
from jobs.models import Job, JobStatus
from jobs.s3 import put_file
from jobs.selectors import job_get_for_user

logger = logging.getLogger(__name__)

SHARE_TOKEN_BYTES = 16  # 128 random bits: a link nobody can guess or enumerate


def poster_key(job: Job, attempt: int) -> str:
    """Beside the video (its key with .jpg): one object per copy, so a fenced copy deletes its
    own, and deleting the video or the account (all under the user's videos/) takes it too."""
    return f"{s3.user_prefix(s3.VIDEOS, job.user_id)}{job.id}.{attempt}.jpg"


def poster_store(*, job: Job, attempt: int, video) -> str:
    """Store a JPEG frame of `video` (a path or seekable file) for this copy; returns its key,
    or "" when no frame could be made (a missing poster never fails a job)."""
    try:
        jpeg = poster_jpeg(video)
    except NotAVideo as error:
        logger.warning("job %s: no poster: %s", job.id, error)
        return ""
    key = poster_key(job, attempt)
    put_file(key, io.BytesIO(jpeg), content_type="image/jpeg")
    return key


def _ensure_poster(job: Job) -> None:
    """Videos saved before posters existed get theirs on first share, from our own copy."""
    if job.poster_key or not job.output_key:
        return
    try:
        with tempfile.TemporaryFile() as buffer:
            with default_storage.open(job.output_key, "rb") as video:
                for chunk in iter(lambda: video.read(1024 * 1024), b""):
                    buffer.write(chunk)
            buffer.seek(0)
            key = poster_store(job=job, attempt=job.copy_attempts, video=buffer)
    except (OSError, BotoCoreError, ClientError) as error:  # share without a preview image
        logger.warning("job %s: no poster: %s", job.id, error)
        return
    if key:
        job.poster_key = key
        Job.objects.filter(pk=job.pk).update(poster_key=key)


def job_share(*, user, job_id) -> Job:
    """Turn the public page of the user's finished video on (again: a new link) and return
    the job with its `share_token`; sharing twice keeps the first link."""
    job = job_get_for_user(user=user, job_id=job_id)
    if job.status != JobStatus.SUCCEEDED or not job.output_key:
        raise ApplicationError("Only a finished video can be shared.", status_code=409,
                               extra={"status": job.status})
    if job.share_token:
        return job
    _ensure_poster(job)
    with transaction.atomic():
        locked = Job.objects.select_for_update().get(pk=job.pk)
        if not locked.share_token:
            locked.share_token = secrets.token_urlsafe(SHARE_TOKEN_BYTES)
            locked.save(update_fields=["share_token", "updated_at"])
    job.share_token = locked.share_token
    return job


def job_unshare(*, user, job_id) -> None:
    """Turn the public page off: its link answers 404 from now on (sharing again makes a new
    link, so a link that went further than meant stays dead)."""
    job = job_get_for_user(user=user, job_id=job_id)
    Job.objects.filter(pk=job.pk).update(share_token=None)
