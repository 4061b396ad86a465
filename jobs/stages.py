"""The words a user reads for each status of a job."""

from __future__ import annotations

from jobs.models import JobStatus

STAGE_TEXT = {
    JobStatus.QUEUED: "In line",
    JobStatus.DISPATCHING: "Sending to the renderer",
    JobStatus.SUBMITTED: "Starting",
    JobStatus.WARMING: "Starting the renderer",
    JobStatus.RENDERING: "Rendering",
    JobStatus.SAVING: "Saving your video",
    JobStatus.SUCCEEDED: "Your video is ready",
    JobStatus.FAILED: "Something went wrong",
    JobStatus.CANCELED: "Canceled",
}

PROVIDERS_BUSY = "Providers are busy, you're still in line"
COLD_START = STAGE_TEXT[JobStatus.WARMING]


def spoken_duration(seconds: float) -> str:
    """A duration as the pages say it (studio/js/stage.js `duration`): "40 s", "2 min"."""
    if seconds < 60:
        return f"{max(1, int(seconds + 0.5))} s"
    minutes = int(seconds / 60 + 0.5)
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60} min"
