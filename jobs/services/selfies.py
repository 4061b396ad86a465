"""Selfie writes: from a multipart file or a direct-to-S3 upload, presigned uploads, deletion.

Each user has a budget of uploads per window and a cap on selfies kept (settings).

S3 and the database change together: objects written before a failed insert are deleted, and
objects of a deleted row are deleted once the deletion commits.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from common.exceptions import ApplicationError
from common.ratelimit import RateLimit, rate_limit_hit
from jobs import s3
from jobs.models import ACTIVE_STATUSES, Selfie, Upload
from jobs.selectors import selfie_get_for_user
from jobs.services.images import ALLOWED_CONTENT_TYPES, MAX_BYTES, ProcessedImage, image_process

logger = logging.getLogger(__name__)
UPLOAD_TTL = timedelta(minutes=15)


@dataclass(frozen=True)
class UploadTicket:
    upload: Upload
    url: str
    fields: dict[str, str]


def _uploads_per_user() -> RateLimit:
    return RateLimit("selfie-uploads", settings.SELFIE_UPLOAD_LIMIT,
                     settings.SELFIE_UPLOAD_WINDOW_SECONDS,
                     "Too many uploads in a short time. Wait {wait}, then upload again.")


def _check_selfie_room(*, user, claiming: Upload | None = None) -> None:
    """Refuse (409) at MAX_SELFIES_PER_USER selfies plus open upload slots: waiting won't help,
    deleting will. A slot being claimed was counted when it was handed out."""
    limit = settings.MAX_SELFIES_PER_USER
    slots = Upload.objects.filter(user=user, expires_at__gt=timezone.now())
    if claiming is not None:
        slots = slots.exclude(pk=claiming.pk)
    if Selfie.objects.filter(user=user).count() + slots.count() >= limit:
        raise ApplicationError(
            f"You have {limit} selfies, the most you can keep. Delete some you no longer need, "
            "then upload again.", status_code=409, extra={"limit": limit})


def _admit_upload(*, user) -> None:
    """A new upload (multipart or a slot): room for one more selfie, and within the rate."""
    _check_selfie_room(user=user)
    rate_limit_hit(_uploads_per_user(), str(user.pk))


def selfie_create_from_upload_file(*, user, file: UploadedFile) -> Selfie:
    """A selfie from a multipart upload: validated by content, re-encoded, stored in S3."""
    if file.size is not None and file.size > MAX_BYTES:
        raise ApplicationError("The image is larger than 10 MB. Upload a smaller photo.",
                               status_code=413, extra={"image": ["Larger than 10 MB."]})
    _admit_upload(user=user)
    processed = image_process(data=file.read(MAX_BYTES + 1))
    return _selfie_store(user=user, processed=processed)


def upload_create(*, user, content_type: str, size: int) -> UploadTicket:
    """A presigned S3 POST whose policy enforces the size range and the content type."""
    if content_type not in ALLOWED_CONTENT_TYPES:
        raise ApplicationError("Upload a JPEG, PNG or WebP image.", extra={
            "content_type": [f"Choose one of: {', '.join(ALLOWED_CONTENT_TYPES)}."]})
    if not 1 <= size <= MAX_BYTES:
        raise ApplicationError("The image must be between 1 byte and 10 MB.",
                               extra={"size": [f"Must be between 1 and {MAX_BYTES}."]})
    _admit_upload(user=user)
    upload_id = uuid.uuid4()
    key = f"{s3.user_prefix(s3.UPLOADS, user.pk)}{upload_id}"
    post = s3.client().generate_presigned_post(
        Bucket=s3.bucket(), Key=key, Fields={"Content-Type": content_type},
        Conditions=[["content-length-range", 1, MAX_BYTES], {"Content-Type": content_type}],
        ExpiresIn=int(UPLOAD_TTL.total_seconds()))
    upload = Upload.objects.create(id=upload_id, user=user, key=key, content_type=content_type,
                                   size=size, expires_at=timezone.now() + UPLOAD_TTL)
    return UploadTicket(upload=upload, url=post["url"], fields=post["fields"])


def selfie_create_from_upload(*, user, upload_id) -> Selfie:
    """Turn a finished direct upload into a selfie; a rejected upload is deleted everywhere."""
    upload = Upload.objects.filter(pk=upload_id, user=user).first()
    if upload is None:
        raise ApplicationError("No upload with this id. Ask for a new upload URL.",
                               extra={"upload_id": ["No upload with this id."]})
    _check_selfie_room(user=user, claiming=upload)
    try:
        processed = image_process(data=_read_upload(upload))
    except ApplicationError:
        _upload_discard(upload)
        raise
    return _selfie_store(user=user, processed=processed, upload=upload)


def selfie_delete(*, user, selfie_id) -> None:
    """Delete a selfie and its S3 objects; refused (409) while a job still needs it."""
    selfie = selfie_get_for_user(user=user, selfie_id=selfie_id)
    with transaction.atomic():
        active = selfie.jobs.filter(status__in=ACTIVE_STATUSES).count()
        if active:
            raise ApplicationError(
                "This selfie is used by a video in progress. Cancel it or wait until it "
                "finishes, then delete the selfie.", status_code=409,
                extra={"active_jobs": active})
        names = [selfie.image.name, selfie.thumbnail.name]
        selfie.delete()
        transaction.on_commit(lambda: _delete_objects(names))


def _selfie_store(*, user, processed: ProcessedImage, upload: Upload | None = None) -> Selfie:
    selfie_id = uuid.uuid4()
    base = f"{s3.user_prefix(s3.SELFIES, user.pk)}{selfie_id}"
    written: list[str] = []
    try:
        written.append(default_storage.save(f"{base}.jpg", ContentFile(processed.image)))
        written.append(default_storage.save(f"{base}-thumb.jpg",
                                            ContentFile(processed.thumbnail)))
        with transaction.atomic():
            if upload is not None and not Upload.objects.filter(pk=upload.pk).delete()[0]:
                raise ApplicationError("This upload was already used.", status_code=409,
                                       extra={"upload_id": ["Already used."]})
            selfie = Selfie.objects.create(id=selfie_id, user=user, image=written[0],
                                           thumbnail=written[1], width=processed.width,
                                           height=processed.height)
            if upload is not None:
                key = upload.key
                transaction.on_commit(lambda: _delete_raw(key))
    except BaseException:
        _delete_objects(written)
        raise
    return selfie


def _read_upload(upload: Upload) -> bytes:
    try:
        response = s3.client().get_object(Bucket=s3.bucket(), Key=upload.key)
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404", "NotFound"):
            raise ApplicationError(
                "Nothing was uploaded for this upload_id. Ask for a new upload URL and POST "
                "the file there first.", extra={"upload_id": ["Nothing uploaded."]}) from None
        raise
    body = response["Body"]
    try:  # the policy caps uploads at 10 MB; read one byte more so image_process can tell
        return body.read(MAX_BYTES + 1)
    finally:
        body.close()


def _upload_discard(upload: Upload) -> None:
    _delete_raw(upload.key)
    Upload.objects.filter(pk=upload.pk).delete()


def _delete_raw(key: str) -> None:
    try:
        s3.client().delete_object(Bucket=s3.bucket(), Key=key)
    except (BotoCoreError, ClientError):  # an orphan private object is harmless; log it
        logger.warning("could not delete s3://%s/%s", s3.bucket(), key, exc_info=True)


def _delete_objects(names: list[str]) -> None:
    for name in names:
        try:
            default_storage.delete(name)
        except Exception:  # storage backends raise their own types; never mask the real error
            logger.warning("could not delete %s from storage", name, exc_info=True)


def upload_purge_expired(*, now) -> int:
    """Delete upload slots never claimed before `now` (rows and any S3 object uploaded)."""
    expired = list(Upload.objects.filter(expires_at__lt=now)[:500])
    for upload in expired:
        _upload_discard(upload)
    _purge_stale_upload_objects(before=now - UPLOAD_TTL)
    return len(expired)


def _purge_stale_upload_objects(*, before) -> None:
    """Delete raw uploads older than a slot's lifetime: no row can claim them any more.

    A presigned POST stays usable until it expires, so a client may upload again after its
    slot was claimed or refused; nothing else would ever delete that object.
    """
    try:
        page = s3.client().list_objects_v2(Bucket=s3.bucket(), Prefix=f"{s3.UPLOADS}/",
                                          MaxKeys=1000)
    except (BotoCoreError, ClientError):
        logger.warning("could not list s3://%s/%s/", s3.bucket(), s3.UPLOADS, exc_info=True)
        return
    for item in page.get("Contents", []):
        if item["LastModified"] < before:
            _delete_raw(item["Key"])
