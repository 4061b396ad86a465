"""Deleting what a user made: one video (a finished job), or the whole account.

Rows go in one transaction; the S3 objects go once it commits, so a rolled-back deletion
leaves nothing half-deleted. Selfies are deleted by `selfie_delete` (jobs/services/selfies.py).
"""

from __future__ import annotations

import logging

from django.db import transaction

from accounts.services import user_delete, user_password_confirm
from common.exceptions import ApplicationError
from jobs import s3
from jobs.models import ACTIVE_STATUSES, Job, Selfie, Upload
from jobs.selectors import job_get_for_user
from jobs.services.jobs import job_cancel_any

logger = logging.getLogger(__name__)


def _job_keys(job: Job) -> set[str]:
    """The job's video, plus every other copy attempt (or poster) stored under its id."""
    keys = {job.output_key} if job.output_key else set()
    return keys | set(s3.keys_under(f"{s3.user_prefix(s3.VIDEOS, job.user_id)}{job.id}"))


def job_delete(*, user, job_id) -> None:
    """Delete a finished (succeeded, failed or canceled) job: its rows (events, notifications)
    and its objects in S3. 409 while it is still being made: cancel it first."""
    job = job_get_for_user(user=user, job_id=job_id)
    with transaction.atomic():
        job = Job.objects.select_for_update().get(pk=job.pk)  # no transition slips in between
        if job.status in ACTIVE_STATUSES:
            raise ApplicationError(
                "This video is still being made. Cancel it first, then delete it.",
                status_code=409, extra={"status": job.status})
        keys = _job_keys(job)
        job.delete()
        transaction.on_commit(lambda: _delete_keys_logged(keys))


def account_delete(*, user, password: str, ip: str) -> None:
    """Delete the account after its password is confirmed (400 when wrong): running jobs are
    canceled (at their provider too), every row goes, every device and socket is signed out,
    a confirmation email goes out, and once committed every S3 object of the user is deleted."""
    user_password_confirm(user=user, password=password, ip=ip)
    with transaction.atomic():
        for job in Job.objects.select_for_update().filter(user=user, status__in=ACTIVE_STATUSES):
            job_cancel_any(job=job, source="account_deleted")
        keys = _user_row_keys(user)
        user_id = user.pk
        user_delete(user=user)
        transaction.on_commit(lambda: _delete_user_objects(user_id=user_id, keys=keys))


def _user_row_keys(user) -> set[str]:
    """Keys the user's rows name (they may lie outside the user's prefixes)."""
    keys: set[str] = set()
    for image, thumbnail in Selfie.objects.filter(user=user).values_list("image", "thumbnail"):
        keys |= {image, thumbnail}
    keys |= set(Upload.objects.filter(user=user).values_list("key", flat=True))
    keys |= set(Job.objects.filter(user=user).exclude(output_key="")
                .values_list("output_key", flat=True))
    return {key for key in keys if key}


def _delete_user_objects(*, user_id, keys: set[str]) -> None:
    swept = {key for kind in s3.USER_PREFIXES for key in s3.keys_under(s3.user_prefix(kind,
                                                                                    user_id))}
    _delete_keys_logged(keys | swept)


def _delete_keys_logged(keys: set[str]) -> None:
    try:
        s3.delete_keys(keys)
    except Exception:  # the rows are gone; a leftover private object is logged, not raised
        logger.exception("could not delete %d objects from s3://%s", len(keys), s3.bucket())
