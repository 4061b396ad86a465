"""The jobs API over HTTP: 202 at once, status, list, timeline, cancel, retry, styles."""

from __future__ import annotations

import socket
import uuid
from urllib.parse import urlparse

import pytest
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from jobs.models import IdempotencyKey, Job, JobStatus, ProviderState
from jobs.services.jobs import request_fingerprint
from jobs.services.transitions import job_transition
from jobs.stages import PROVIDERS_BUSY
from jobs.styles import STYLES
from jobs.tests.apis.support import assert_error

pytestmark = pytest.mark.django_db
URL = "/api/v1/jobs/"
STYLE = "cyberpunk-hero"


def submit(api, selfie, key=None, style=STYLE):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key is not None else {}
    return api.post(URL, {"selfie_id": str(selfie.id), "style": style}, format="json",
                    **headers)


def move(job_id, status, **fields):
    job_transition(job_id=job_id, status=status, source="test", fields=fields)


def test_submit_is_202_with_location_and_links(api, selfie):
    response = submit(api, selfie)
    assert response.status_code == 202, response.json()
    body = response.json()
    assert set(body) == {"id", "status", "stage", "progress", "queue_position", "eta_seconds",
                         "created_at", "status_url", "events_url", "page_url"}
    assert response["Location"] == f"/api/v1/jobs/{body['id']}/"
    assert body["status"] == "queued" and body["queue_position"] == 0
    assert body["stage"] == "In line — position 1" and body["eta_seconds"] > 0
    assert body["status_url"] == f"http://testserver/api/v1/jobs/{body['id']}/"
    assert body["events_url"] == f"ws://testserver/ws/jobs/{body['id']}/"
    assert body["page_url"] == f"http://testserver/app/jobs/{body['id']}/"


def test_submit_contacts_nothing_but_redis(api, selfie, monkeypatch,
                                           django_capture_on_commit_callbacks):
    """The view only inserts and enqueues; the engine's wake-up goes to Redis."""
    contacted = []
    connect = socket.socket.connect

    def recording_connect(sock, address):
        contacted.append(address)
        return connect(sock, address)
    monkeypatch.setattr(socket.socket, "connect", recording_connect)
    with django_capture_on_commit_callbacks(execute=True):
        assert submit(api, selfie).status_code == 202
    redis = urlparse(django_settings.REDIS_URL)
    assert all(isinstance(address, tuple) and address[1] == redis.port
               for address in contacted), contacted


def test_same_idempotency_key_replays_the_job(api, selfie):
    first = submit(api, selfie, key="order-1")
    again = submit(api, selfie, key="order-1")
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    assert again["Idempotent-Replayed"] == "true" and again["Location"] == first["Location"]
    assert Job.objects.count() == 1


def test_quoted_structured_field_key_is_the_same_key(api, selfie):
    first = submit(api, selfie, key="order-1")
    assert submit(api, selfie, key='"order-1"').json()["id"] == first.json()["id"]


def test_same_key_different_body_is_422(api, selfie):
    submit(api, selfie, key="order-1")
    assert_error(submit(api, selfie, key="order-1", style="other"), 422)


def test_retry_while_first_is_being_created_is_409(api, user, selfie):
    fingerprint = request_fingerprint({"selfie_id": str(selfie.id), "style": STYLE})
    IdempotencyKey.objects.create(user=user, key="order-1", request_hash=fingerprint)
    assert_error(submit(api, selfie, key="order-1"), 409)


def test_keys_are_per_user(api, other_api, selfie, other_user, make_selfie):
    mine = submit(api, selfie, key="k").json()["id"]
    theirs = submit(other_api, make_selfie(other_user), key="k")
    assert theirs.status_code == 202 and theirs.json()["id"] != mine


@pytest.mark.parametrize("key", ["", "x" * 256, "naïve", "tab\there"],
                         ids=["empty", "too-long", "non-ascii", "control"])
def test_invalid_idempotency_key_is_400(api, selfie, key):
    body = assert_error(submit(api, selfie, key=key), 400)
    assert "Idempotency-Key" in body["extra"]
    assert not Job.objects.exists()


def test_quota_is_the_429(api, selfie, settings):
    settings.MAX_ACTIVE_JOBS_PER_USER = 2
    assert submit(api, selfie).status_code == 202
    assert submit(api, selfie).status_code == 202
    response = submit(api, selfie)
    body = assert_error(response, 429)
    assert int(response["Retry-After"]) > 0 and "2 videos" in body["message"]


@pytest.mark.parametrize(("payload", "field"), [
    ({"selfie_id": "nope", "style": STYLE}, "selfie_id"),
    ({"selfie_id": str(uuid.uuid4()), "style": STYLE}, "selfie_id"),
    ({"style": STYLE}, "selfie_id"),
])
def test_bad_selfie_is_400(api, payload, field):
    assert field in assert_error(api.post(URL, payload, format="json"), 400)["extra"]


def test_unknown_style_is_400(api, selfie):
    assert "style" in assert_error(submit(api, selfie, style="vaporwave"), 400)["extra"]


def test_another_users_selfie_is_400(other_api, selfie):
    assert "selfie_id" in assert_error(submit(other_api, selfie), 400)["extra"]


def test_wrong_content_type_415_and_malformed_json_400(api):
    assert_error(api.post(URL, "selfie_id=1", content_type="application/x-www-form-urlencoded"),
                 415)
    assert_error(api.post(URL, '{"selfie_id":', content_type="application/json"), 400)


def test_detail_of_a_queued_job(api, selfie):
    job_id = submit(api, selfie).json()["id"]
    body = api.get(f"{URL}{job_id}/").json()
    assert set(body) == {"id", "status", "stage", "progress", "queue_position", "eta_seconds",
                         "provider", "error", "video_url", "thumbnail_url", "page_url",
                         "status_url", "events_url", "created_at", "updated_at"}
    assert body["queue_position"] == 0 and body["video_url"] is None
    assert body["error"] is None and body["provider"] is None
    assert "Signature" in body["thumbnail_url"]


def test_queue_position_counts_other_users_in_fair_share(api, other_api, selfie, other_user,
                                                         make_selfie):
    submit(other_api, make_selfie(other_user))
    job_id = submit(api, selfie).json()["id"]
    body = api.get(f"{URL}{job_id}/").json()
    assert body["queue_position"] == 1 and body["stage"] == "In line — position 2"


def test_stage_says_providers_are_busy_when_all_are_unavailable(api, selfie):
    for name in django_settings.PROVIDERS:
        ProviderState.objects.create(name=name, enabled=False)
    body = submit(api, selfie).json()
    assert body["stage"] == PROVIDERS_BUSY


def test_succeeded_job_has_a_signed_video_url(api, selfie):
    job_id = submit(api, selfie).json()["id"]
    move(job_id, JobStatus.DISPATCHING, provider="local")
    move(job_id, JobStatus.SUCCEEDED, output_key=f"videos/x/{job_id}.mp4")
    body = api.get(f"{URL}{job_id}/").json()
    assert body["status"] == "succeeded" and body["queue_position"] is None
    assert body["provider"] == "local" and body["eta_seconds"] is None
    assert f"{job_id}.mp4" in body["video_url"] and "X-Amz-Expires=900" in body["video_url"]


def test_failed_job_has_an_error(api, selfie):
    job_id = submit(api, selfie).json()["id"]
    move(job_id, JobStatus.FAILED, error_code="provider_error", error_message="It broke.")
    body = api.get(f"{URL}{job_id}/").json()
    assert body["error"] == {"code": "provider_error", "message": "It broke."}


@pytest.mark.parametrize("suffix", ["", "events/", "cancel/", "retry/"])
def test_another_users_or_malformed_job_is_404(api, other_api, selfie, suffix):
    job_id = submit(api, selfie).json()["id"]
    call = other_api.get if suffix in ("", "events/") else other_api.post
    assert_error(call(f"{URL}{job_id}/{suffix}"), 404)
    assert_error(call(f"{URL}not-a-uuid/{suffix}"), 404)


def test_list_is_own_newest_first_filtered_and_cursor_paginated(api, other_api, selfie,
                                                                other_user, make_selfie):
    ids = [submit(api, selfie).json()["id"] for _ in range(3)]
    submit(other_api, make_selfie(other_user))
    move(ids[0], JobStatus.FAILED)
    page = api.get(URL, {"page_size": 2}).json()
    assert [job["id"] for job in page["results"]] == [ids[2], ids[1]]
    rest = api.get(page["next"]).json()
    assert [job["id"] for job in rest["results"]] == [ids[0]] and rest["next"] is None
    failed = api.get(URL, {"status": "failed"}).json()["results"]
    assert [job["id"] for job in failed] == [ids[0]]
    assert "status" in assert_error(api.get(URL, {"status": "exploded"}), 400)["extra"]
    assert_error(api.get(URL, {"cursor": "garbage"}), 404)


def test_events_are_the_timeline_oldest_first_with_catch_up(api, selfie):
    job_id = submit(api, selfie).json()["id"]
    move(job_id, JobStatus.DISPATCHING)
    events = api.get(f"{URL}{job_id}/events/").json()
    assert [(e["seq"], e["status"]) for e in events] == [(1, "queued"), (2, "dispatching")]
    assert set(events[0]) == {"seq", "status", "stage", "progress", "at", "detail"}
    assert [e["seq"] for e in api.get(f"{URL}{job_id}/events/", {"after": 1}).json()] == [2]
    assert_error(api.get(f"{URL}{job_id}/events/", {"after": "x"}), 400)
    assert_error(api.get(f"{URL}{job_id}/events/", {"after": -1}), 400)


def test_cancel_is_202_then_409(api, selfie):
    job_id = submit(api, selfie).json()["id"]
    response = api.post(f"{URL}{job_id}/cancel/")
    assert response.status_code == 202 and response.json()["status"] == "canceled"
    assert_error(api.post(f"{URL}{job_id}/cancel/"), 409)


def test_retry_is_202_with_a_new_job_or_409(api, selfie):
    job_id = submit(api, selfie).json()["id"]
    assert_error(api.post(f"{URL}{job_id}/retry/"), 409)
    api.post(f"{URL}{job_id}/cancel/")
    response = api.post(f"{URL}{job_id}/retry/")
    assert response.status_code == 202
    new_id = response.json()["id"]
    assert new_id != job_id and response["Location"] == f"/api/v1/jobs/{new_id}/"
    assert Job.objects.get(pk=new_id).retry_of_id == uuid.UUID(job_id)


def test_get_on_cancel_is_405(api, selfie):
    job_id = submit(api, selfie).json()["id"]
    assert_error(api.get(f"{URL}{job_id}/cancel/"), 405)


def test_styles(api):
    """Every style with absolute URLs of its preview loop and poster, which are served."""
    styles = api.get("/api/v1/styles/").json()
    assert [style["slug"] for style in styles] == list(STYLES)
    noir = next(style for style in styles if style["slug"] == "film-noir")
    assert noir["title"] == "Film noir" and noir["description"] == STYLES["film-noir"].description
    assert noir["preview_url"] == "http://testserver/static/styles/film-noir.mp4"
    assert noir["poster_url"] == "http://testserver/static/styles/film-noir.jpg"
    assert set(noir) == {"slug", "title", "description", "preview_url", "poster_url"}


def test_oversized_json_body_is_413(api):
    assert_error(api.post(URL, {"style": "x" * 70_000}, format="json"), 413)


def test_anonymous_is_401():
    assert_error(APIClient().get(URL), 401)


@pytest.mark.parametrize(("path", "params", "field"), [
    (URL, {"status": ""}, "status"), (URL, {"page_size": "abc"}, "page_size"),
    (URL, {"page_size": 0}, "page_size"), (URL, {"page_size": 101}, "page_size"),
    ("/api/v1/selfies/", {"page_size": "null"}, "page_size"),
], ids=["blank-status", "page-size-abc", "page-size-0", "page-size-101", "selfies-page-size"])
def test_malformed_query_parameters_are_400(api, path, params, field):
    """What the schema does not allow is refused, not silently replaced by a default."""
    assert field in assert_error(api.get(path, params), 400)["extra"]


@pytest.mark.parametrize("after", ["", "-1", "x"])
def test_malformed_after_is_400(api, selfie, after):
    job_id = submit(api, selfie).json()["id"]
    assert "after" in assert_error(api.get(f"{URL}{job_id}/events/", {"after": after}),
                                   400)["extra"]


def test_style_and_upload_choices_are_enums_in_the_schema(api):
    """Clients (and fuzzers) learn the valid values from the schema, not by trial and error."""
    schemas = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()["components"][
        "schemas"]
    create = schemas["JobCreateApiInputRequest"]["properties"]
    assert create["style"]["allOf"] == [{"$ref": "#/components/schemas/StyleEnum"}]
    assert schemas["StyleEnum"]["enum"] == sorted(STYLES)
    upload = schemas["UploadCreateApiInputRequest"]["properties"]
    assert upload["content_type"] == {"$ref": "#/components/schemas/ContentTypeEnum"}
    assert schemas["ContentTypeEnum"]["enum"] == ["image/jpeg", "image/png", "image/webp"]
    assert (upload["size"]["minimum"], upload["size"]["maximum"]) == (1, 10 * 1024 * 1024)


def test_a_submission_reads_in_one_query_and_writes_in_one_transaction(
        api, selfie, django_assert_max_num_queries):
    """The spike's hot path: the selfie, the quota, the user's round and the line's round in
    one read, two inserts in one transaction, then the new job's place in line (it was 4
    reads before the transaction: each ORM query costs more to build than to run)."""
    submit(api, selfie)
    with django_assert_max_num_queries(6) as captured:  # read, (BEGIN,) 2 inserts, COMMIT, place
        assert submit(api, selfie).status_code == 202
    writes = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("INSERT")]
    assert len(writes) == 2


def test_a_submission_with_someone_elses_selfie_is_400(api, other_user, make_selfie):
    response = submit(api, make_selfie(other_user))
    assert assert_error(response, 400)["message"] == "No selfie with this id. Upload a selfie first."
    assert not Job.objects.exists()


def test_a_status_poll_is_two_queries(api, selfie, django_assert_num_queries):
    """The job (with its selfie) and its place in line."""
    job_id = submit(api, selfie).json()["id"]
    with django_assert_num_queries(2):
        assert api.get(f"{URL}{job_id}/").status_code == 200
