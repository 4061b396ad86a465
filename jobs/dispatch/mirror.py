"""Copies a finished video from the provider into our own bucket, then the job succeeds.

Provider URLs expire (Replicate: one hour), so this runs as soon as a job reaches `saving`.
Downloads are guarded: size cap, timeouts, and only https or a configured provider host —
never a private, loopback or link-local address (SSRF).
"""

from __future__ import annotations

import logging
import tempfile
from datetime import timedelta
from urllib.parse import urljoin, urlsplit

import httpx
from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage
from django.utils import timezone

from common.outbound import UnsafeURL, check_public_url
from jobs.dispatch.wakeup import MIRROR_LEASE_SECONDS
from jobs.logs import about_job
from jobs.models import Job, JobStatus
from jobs.services.dispatch import job_fail
from jobs.services.transitions import job_transition
from providers.exceptions import ProviderError
from providers.registry import get_backend

logger = logging.getLogger(__name__)

MAX_REDIRECTS = 3
TIMEOUT = httpx.Timeout(connect=5.0, read=30.0, write=30.0, pool=5.0)


class OutputRefused(Exception):
    """The output URL is not one we may fetch, or its body is not acceptable."""


class OutputGone(Exception):
    """The provider no longer has the output (404/410): ask it for a fresh URL."""


def _trusted_hosts() -> set[str]:
    hosts = {host.lower() for host in settings.OUTPUT_URL_ALLOWED_HOSTS}
    for config in settings.PROVIDERS.values():
        if config.get("BASE_URL"):
            hosts.add(urlsplit(config["BASE_URL"]).netloc.lower())
    return hosts


def check_output_url(url: str) -> None:
    """Refuse anything but https to a public address, or a configured provider host."""
    try:
        check_public_url(url, trusted_hosts=_trusted_hosts())
    except UnsafeURL as error:
        raise OutputRefused(str(error)) from error


def download(url: str, destination) -> int:
    """Stream `url` into the file `destination`, following guarded redirects; returns bytes."""
    with httpx.Client(timeout=TIMEOUT, follow_redirects=False) as client:
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


def output_key(job: Job) -> str:
    return f"videos/{job.user_id}/{job.id}.mp4"


@about_job
def mirror_output(*, job_id) -> None:
    """Copy the job's output into S3 and mark it succeeded (idempotent; safe to re-run)."""
    job = Job.objects.filter(pk=job_id).first()
    if job is None or job.status != JobStatus.SAVING:
        return
    Job.objects.filter(pk=job.id).update(
        lease_until=timezone.now() + timedelta(seconds=MIRROR_LEASE_SECONDS))
    url = job.output_url
    for refreshed in (False, True):
        try:
            with tempfile.SpooledTemporaryFile(max_size=16 * 1024 * 1024) as buffer:
                download(url, buffer)
                buffer.seek(0)
                key = default_storage.save(output_key(job), File(buffer, name="video.mp4"))
            break
        except OutputGone:
            url = None if refreshed else _fresh_output_url(job)
            if not url:
                job_fail(job_id=job.id, code="output_expired", source="mirror",
                         message="The provider deleted the video before we could save it. "
                                 "Please try again.")
                return
        except OutputRefused as error:
            logger.warning("job %s: output refused: %s", job.id, error)
            job_fail(job_id=job.id, code="output_refused", source="mirror",
                     message="The provider returned a video we could not accept.")
            return
    transition = job_transition(job_id=job.id, status=JobStatus.SUCCEEDED, source="mirror",
                                fields={"output_key": key, "lease_until": None},
                                detail={"bytes": default_storage.size(key)})
    if not transition.applied:  # canceled while saving: don't keep an orphan
        default_storage.delete(key)


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
