"""A finished job for tests of what comes after: its video (and poster) in the real bucket."""

from __future__ import annotations

import io

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from common.tests.test_video_probe import make_mp4
from jobs.models import Job, JobStatus
from jobs.services.sharing import poster_store
from jobs.services.transitions import job_record_created, job_transition


def finished_job(user, *, poster: bool = False, video: bytes | None = None,
                 style: str = "cyberpunk-hero") -> Job:
    """A succeeded job whose video (default: a 2 s MPEG-4 clip) and, if asked, its poster
    frame are in the real bucket."""
    video = video or make_mp4(seconds=2)
    job = Job.objects.create(user=user, style=style, last_seq=1)
    job_record_created(job, source="test")
    fields = {"output_key": default_storage.save(f"videos/{user.pk}/{job.id}.1.mp4",
                                                 ContentFile(video, name="v.mp4"))}
    if poster:
        fields["poster_key"] = poster_store(job=job, attempt=1, video=io.BytesIO(video))
    job_transition(job_id=job.id, status=JobStatus.SAVING, source="test")
    job_transition(job_id=job.id, status=JobStatus.SUCCEEDED, source="test", fields=fields)
    return Job.objects.get(pk=job.id)
