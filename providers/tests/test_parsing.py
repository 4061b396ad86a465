"""Recorded provider payloads normalize into ProviderEvents, one status at a time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from providers.backends import fal, replicate, wavespeed
from providers.events import ProviderEvent, stable_event_id
from providers.parsing import last_line, percent_progress, tqdm_progress
from providers.tests.support import load_fixture

CREATED = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)


def rep(name: str, *, seconds_after: float = 1.0) -> ProviderEvent:
    return replicate.prediction_event("replicate", load_fixture("replicate", name),
                                      now=CREATED + timedelta(seconds=seconds_after))




def test_replicate_starting_is_queued_at_first():
    event = rep("prediction_starting")
    assert (event.status, event.progress) == ("queued", None)
    assert event.provider_job_id == "ufawqhfynnddngldkgtslldrkq"


def test_replicate_long_starting_is_warming():
    """Starting for longer than WARMING_AFTER_SECONDS means a cold boot."""
    assert rep("prediction_starting", seconds_after=30).status == "warming"


def test_replicate_starting_with_boot_logs_is_warming():
    event = rep("prediction_starting_booting")
    assert event.status == "warming"
    assert "Booting" in event.detail


def test_replicate_processing_progress_from_last_tqdm_line():
    event = rep("prediction_processing")
    assert event.status == "rendering"
    assert event.progress == pytest.approx(0.42)
    assert event.detail.startswith("42%|")


@pytest.mark.parametrize("name", ["prediction_succeeded", "prediction_succeeded_list"])
def test_replicate_succeeded_takes_first_url(name):
    event = rep(name)
    assert event.status == "succeeded"
    assert event.output_url == "https://replicate.delivery/xezq/abc123/output.mp4"
    assert event.progress == 1.0 and event.is_terminal


def test_replicate_removed_output_is_a_retryable_failure():
    """After an hour Replicate deletes outputs: the video is gone, resubmitting may help."""
    event = rep("prediction_succeeded_data_removed")
    assert (event.status, event.error_code, event.permanent_error) == (
        "failed", "output_expired", False)
    assert event.output_url is None and "expired" in event.error_message


def test_replicate_failed_is_readable_not_a_traceback():
    event = rep("prediction_failed")
    assert event.status == "failed" and not event.permanent_error
    assert "CUDA" not in event.error_message
    assert "CUDA" in event.detail


def test_replicate_nsfw_failure_is_permanent():
    event = rep("prediction_failed_nsfw")
    assert (event.status, event.error_code, event.permanent_error) == (
        "failed", "moderation", True)


def test_replicate_aborted_and_canceled():
    assert (rep("prediction_aborted").status, rep("prediction_aborted").error_code) == (
        "failed", "aborted")
    assert rep("prediction_canceled").status == "canceled"


def test_replicate_poll_event_ids_are_stable_and_distinct():
    """The same observation gets the same id; a new status or progress gets a new one."""
    assert rep("prediction_processing").event_id == rep("prediction_processing").event_id
    assert rep("prediction_processing").event_id != rep("prediction_succeeded").event_id


def test_replicate_unknown_status_is_an_error():
    with pytest.raises(ValueError):
        replicate.prediction_event("r", {"id": "x", "status": "exploding"})


def test_wavespeed_every_status():
    def ws(name, key="data"):
        data = load_fixture("wavespeed", name)
        return wavespeed.prediction_event("wavespeed", data[key] if key else data)

    assert ws("submit_created").status == "queued"
    assert ws("result_processing").status == "rendering"
    completed = ws("result_completed")
    assert completed.status == "succeeded" and completed.output_url.endswith("/1.mp4")
    failed = ws("result_failed")
    assert failed.status == "failed" and failed.error_message
    assert ws("webhook_completed", key=None).output_url == completed.output_url
    assert ws("webhook_failed", key=None).status == "failed"


def test_wavespeed_completed_without_outputs_is_a_failure():
    data = {**load_fixture("wavespeed", "result_completed")["data"], "outputs": []}
    event = wavespeed.prediction_event("w", data)
    assert (event.status, event.error_code) == ("failed", "no_output")


def test_fal_queue_statuses():
    rid = "764cabcf-b745-4b3e-ae38-1200304cf45b"
    queued = fal.status_event("fal", rid, load_fixture("fal", "status_in_queue"))
    assert queued.status == "queued" and "3" in queued.detail
    assert fal.status_event("fal", rid, load_fixture("fal", "status_in_queue_booting")).status \
        == "warming"
    progress = fal.status_event("fal", rid, load_fixture("fal", "status_in_progress"))
    assert progress.status == "rendering" and progress.progress == pytest.approx(0.60)
    assert progress.detail == "Rendering frames: 60% (49/81)"
    loading = fal.status_event("fal", rid, load_fixture("fal", "status_in_progress_no_percent"))
    assert loading.status == "warming" and loading.detail == "Loading model weights"
    plain = fal.status_event("fal", rid, {"status": "IN_PROGRESS",
                                          "logs": [{"message": "Generating video"}]})
    assert plain.status == "rendering" and plain.progress is None
    with pytest.raises(ValueError):
        fal.status_event("fal", rid, load_fixture("fal", "status_completed"))


def test_fal_result_and_errors():
    result = fal.result_event("fal", "r1", load_fixture("fal", "result"))
    assert result.status == "succeeded" and result.output_url.endswith("output.mp4")
    assert fal.result_event("fal", "r1", {"seed": 1}).status == "failed"
    assert fal.video_url({"video": "https://x/v.mp4"}) == "https://x/v.mp4"
    assert fal.video_url({"videos": [{"url": "https://x/w.mp4"}]}) == "https://x/w.mp4"


def test_progress_helpers():
    assert tqdm_progress(" 10%|█ | 5/50\r 42%|████  | 21/50") == pytest.approx(0.42)
    assert tqdm_progress("no bar here 42%") is None
    assert percent_progress("step 3: 7.5 %") == pytest.approx(0.075)
    assert last_line("a\nb\r c \n\n") == "c"


def test_event_rejects_unknown_status_and_bad_progress():
    with pytest.raises(ValueError):
        ProviderEvent(provider="p", provider_job_id="j", event_id="e", status="done")
    with pytest.raises(ValueError):
        ProviderEvent(provider="p", provider_job_id="j", event_id="e", status="rendering",
                      progress=1.5)
    assert stable_event_id("a", 1) == stable_event_id("a", 1) != stable_event_id("a", 2)


def test_fal_boot_inside_in_progress_is_warming():
    """Until frames are reported, a booting log line means the model is still warming up."""
    data = {"status": "IN_PROGRESS", "logs": [{"message": "Booting model…"}]}
    assert fal.status_event("fal", "r", data).status == "warming"
    data["logs"].append({"message": "Generating video for model o/m"})
    assert fal.status_event("fal", "r", data).status == "rendering"
