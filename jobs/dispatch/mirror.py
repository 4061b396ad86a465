"""Copies a finished video from the provider into our own bucket, then the job succeeds.

Provider URLs expire (Replicate: one hour), so this runs as soon as a job reaches `saving`.
Downloads are guarded: size cap, timeouts, and only https to a public address or a path
a provider's backend declares as its outputs — never a private, loopback or link-local
address (SSRF). What arrives must be a video (common/video_probe.py), and each copy is fenced:
when two copies of one job run, only the latest claim may succeed it.
"""

from __future__ import annotations

import functools
import logging
import tempfile
from urllib.parse import urljoin, urlsplit

import httpx
from django.conf import settings
from django.core.files.storage import default_storage

from common.outbound import UnsafeURL, check_public_url
from common.video_probe import NotAVideo, probe_video
from jobs import s3
from jobs.dispatch.wakeup import MIRROR_LEASE_SECONDS
from jobs.logs import about_job
from jobs.models import Job
from jobs.s3 import put_file
from jobs.services.outputs import job_claim_copy, job_fail_copy, job_record_output
from jobs.services.sharing import poster_store
from providers.exceptions import ProviderError
from providers.registry import get_backend, provider_names

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 3
TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=5.0)


class OutputRefused(Exception):
    """The output URL is not one we may fetch, or its body is not acceptable."""


class OutputGone(Exception):
    """The provider no longer has the output (404/410): ask it for a fresh URL."""


def _trusted(url: str) -> bool:
    """An extra host the operator allows, or an output path a provider's backend declares."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return False
    if parts.netloc.lower() in {host.lower() for host in settings.OUTPUT_URL_ALLOWED_HOSTS}:
        return True
    return any(get_backend(name).output_url_allowed(url) for name in provider_names())


def check_output_url(url: str) -> None:
    """Refuse anything but https to a public address, or a provider's declared output path."""
    if _trusted(url):
        return
    try:
        check_public_url(url)
    except UnsafeURL as error:
        raise OutputRefused(str(error)) from error


@functools.cache
def _downloads() -> httpx.Client:
    """One pooled client for every copy in this process (httpx clients are thread-safe):
    building one loads the CA bundle, about 25 ms of CPU per copy, taken from the dispatcher
    process whose threads also hand freed slots their next job."""
    return httpx.Client(timeout=TIMEOUT, follow_redirects=False)


def warm_up() -> None:
    """Build the download client before the first copy: built lazily, the first finished
    renders (ten at once) had every copy thread build one at the same time, CPU a thread of
    the same process holding the database's write lock then waited behind."""
    _downloads()


def download(url: str, destination) -> int:
    """Stream `url` into the file `destination`, following guarded redirects; returns bytes."""
    client = _downloads()
    for _ in range(MAX_REDIRECTS + 1):
        check_output_url(url)
        with client.stream("GET", url) as response:
            if response.is_redirect:
                url = urljoin(url, response.headers["location"])
                continue
            if response.status_code in (404, 410):
                raise OutputGone(f"output answered {response.status_code}")
            response.raise_for_status()
            declared = int(response.headers.get("content-length") or 0)
            if declared > settings.MAX_OUTPUT_BYTES:
                raise OutputRefused(f"output is {declared} bytes, over the cap")
            size = 0
            for chunk in response.iter_bytes(1024 * 1024):
                size += len(chunk)
                if size > settings.MAX_OUTPUT_BYTES:
                    raise OutputRefused("output is over the size cap")
                destination.write(chunk)
            if size == 0:
                raise OutputRefused("output is empty")
            return size
    raise OutputRefused("too many redirects")


def output_key(job: Job, attempt: int) -> str:
    """One key per copy: a copy that lost the race deletes its own object, never the winner's."""
    return f"{s3.user_prefix(s3.VIDEOS, job.user_id)}{job.id}.{attempt}.mp4"


NOT_A_VIDEO = "The renderer returned something that isn't a video. Please try again."


@about_job
def mirror_output(*, job_id) -> None:
    """Copy the job's output into S3 and mark it succeeded (idempotent; safe to re-run)."""
    job = job_claim_copy(job_id=job_id, lease_seconds=MIRROR_LEASE_SECONDS)
    if job is None:
        return
    attempt = job.copy_attempts
    url = job.output_url
    for refreshed in (False, True):
        try:
            with tempfile.TemporaryFile() as buffer:
                size = download(url, buffer)
                buffer.seek(0)
                probe_video(buffer, size=size)
                buffer.seek(0)
                poster = poster_store(job=job, attempt=attempt, video=buffer)
                buffer.seek(0)
                key = output_key(job, attempt)
                put_file(key, buffer, content_type="video/mp4")
            break
        except OutputGone:
            url = None if refreshed else _fresh_output_url(job)
            if not url:
                job_fail_copy(job_id=job.id, attempt=attempt, code="output_expired",
                              message="The provider deleted the video before we could save "
                                      "it. Please try again.")
                return
        except OutputRefused as error:
            logger.warning("job %s: output refused: %s", job.id, error)
            job_fail_copy(job_id=job.id, attempt=attempt, code="output_refused",
                          message="The provider returned a video we could not accept.")
            return
        except NotAVideo as error:
            logger.warning("job %s: output is not a video: %s", job.id, error)
            job_fail_copy(job_id=job.id, attempt=attempt, code="output_not_video",
                          message=NOT_A_VIDEO)
            return
    try:
        transition = job_record_output(job_id=job.id, attempt=attempt, key=key,
                                       poster_key=poster)
    except Job.DoesNotExist:  # deleted meanwhile (with its account): keep no orphan
        for orphan in filter(None, [key, poster]):
            default_storage.delete(orphan)
        return
    if transition is None:  # the upload vanished: the reconciler copies again
        logger.warning("job %s: stored video %s is missing after the copy", job.id, key)
        orphans = [poster]
    elif not transition.applied:  # canceled, or a later copy took over: keep no orphan
        orphans = [key, poster]
    else:
        orphans = []
    for orphan in filter(None, orphans):
        default_storage.delete(orphan)


def _fresh_output_url(job: Job) -> str | None:
    """Expired URL: the provider's status endpoint may hand out a new one."""
    try:
        event = get_backend(job.provider).fetch_status(job.provider_job_id)
    except ProviderError as error:
        logger.warning("job %s: could not refresh output URL: %s", job.id, error)
        return None
    if event.output_url and event.output_url != job.output_url:
        return event.output_url
    return None
