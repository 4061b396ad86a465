"""jobs/s3: one client per process, built at start, and signed URLs reused."""

from __future__ import annotations

from unittest import mock

from jobs import s3


def test_warm_up_builds_the_client_so_the_first_signed_url_builds_nothing():
    """The first request, poll or copy of a process built the client (botocore's JSON models,
    hundreds of ms of CPU) while a spike queued behind it."""
    s3._client.cache_clear()
    s3.warm_up()
    with mock.patch.object(s3, "s3_client", side_effect=AssertionError("built again")):
        url = s3.signed_url("videos/warm-up-test.mp4")
    assert "warm-up-test.mp4" in url and "X-Amz-Signature" in url


def test_a_signed_url_is_reused_until_half_its_lifetime_has_passed():
    first = s3.signed_url("videos/reused.mp4", seconds=600)
    with mock.patch.object(s3.client(), "generate_presigned_url",
                           side_effect=AssertionError("signed again")):
        assert s3.signed_url("videos/reused.mp4", seconds=600) == first
