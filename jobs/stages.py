"""The words a user reads for each status of a job."""

from jobs.models import JobStatus

STAGE_TEXT = {
    JobStatus.QUEUED: "In line",
    JobStatus.DISPATCHING: "Sending to the renderer",
    JobStatus.SUBMITTED: "Starting",
    JobStatus.WARMING: "Warming up the model",
    JobStatus.RENDERING: "Rendering",
    JobStatus.SAVING: "Saving your video",
    JobStatus.SUCCEEDED: "Your video is ready",
    JobStatus.FAILED: "Something went wrong",
    JobStatus.CANCELED: "Canceled",
}

PROVIDERS_BUSY = "Providers are busy, you're still in line"
