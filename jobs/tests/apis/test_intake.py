"""jobs/apis/intake.py: the common submission answered by the intake exactly as the view would
answer it, written in batches; everything else passed to the view unchanged."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from django_prometheus.middleware import Metrics

from jobs.apis import intake
from jobs.apis.intake import SubmissionIntake
from jobs.models import Job
from jobs.tests.apis.lanes import (
    FirstCallHeld,
    call_sizes,
    client_leaving,
    csp,
    lane_apps,
    one,
)

pytestmark = pytest.mark.django_db(transaction=True)  # the writer thread sees the test's rows
STYLE = "cyberpunk-hero"
PER_REQUEST = {"location", "content-length", "x-request-id"}  # the server adds Date


@pytest.fixture
def make_apps():
    with lane_apps(SubmissionIntake, threads=2) as make:
        yield make


def request(who, *, body=None, headers=(), path="/api/v1/jobs/", query=b""):
    payload = json.dumps({"selfie_id": who["selfie_id"], "style": STYLE} if body is None
                         else body).encode()
    return {"method": "POST", "path": path, "query": query, "body": payload,
            "headers": [(b"host", b"testserver"), (b"content-type", b"application/json"),
                        (b"content-length", str(len(payload)).encode()),
                        (b"authorization", f"Token {who['token']}".encode()), *headers]}


@pytest.fixture
def taken(monkeypatch):
    """The sizes of the batches the intake wrote."""
    return call_sizes(monkeypatch, intake, "jobs_create")


def test_a_common_submission_is_answered_as_the_view_answers_it(apps, api_user, taken):
    front, view = apps
    who = api_user()

    status, headers, body = one(front, request(who))
    view_status, view_headers, view_body = one(view, request(who))

    assert taken == [1], "the intake did not take it"
    assert status == view_status == 202
    assert csp(headers) == csp(view_headers)
    assert {k: v for k, v in headers.items() if k not in PER_REQUEST} == \
        {k: v for k, v in view_headers.items() if k not in PER_REQUEST}
    assert PER_REQUEST <= headers.keys()
    job = json.loads(body)
    assert headers["location"] == f"/api/v1/jobs/{job['id']}/"
    assert job.keys() == json.loads(view_body).keys()
    assert job["status"] == "queued" and job["queue_position"] == 0
    assert job["status_url"] == f"http://testserver/api/v1/jobs/{job['id']}/"
    assert Job.objects.get(id=job["id"]).user == who["user"]


def test_the_request_id_is_kept_and_the_request_counted(apps, api_user, taken):
    front, _ = apps
    counted = Metrics.get_instance().responses_by_status_view_method.labels(
        status="202", view="api-jobs", method="POST")
    before = counted._value.get()

    _, headers, _ = one(front, request(api_user(), headers=[(b"x-request-id", b"phone-1234567")]))

    assert headers["x-request-id"] == "phone-1234567"
    assert counted._value.get() == before + 1


def test_submissions_that_arrive_while_a_batch_is_written_share_the_next(apps, api_user,
                                                                        monkeypatch):
    front, _ = apps
    people = [api_user() for _ in range(5)]
    held = FirstCallHeld(monkeypatch, intake, "jobs_create")

    answers = asyncio.run(held.behind_first(front, request(people[0]),
                                            [request(who) for who in people[1:]]))

    assert held.sizes == [1, 4]
    assert [status for status, _, _ in answers] == [202] * 5
    ids = {json.loads(body)["id"] for _, _, body in answers}
    assert set(map(str, Job.objects.values_list("id", flat=True))) == ids


@pytest.mark.parametrize("case", [
    "idempotency-key", "extra-field", "unknown-style", "not-a-uuid", "someone-elses-selfie",
    "bad-token", "html-wanted", "query-string", "over-quota", "inactive-user", "form-body",
    "idempotency_key", "http-where-https-is-required", "host-not-allowed"])
def test_what_the_intake_does_not_take_gets_the_views_answer(apps, make_apps, api_user, case,
                                                              settings, taken):
    front, view = apps
    who, other = api_user(is_active=case != "inactive-user"), api_user()
    body, headers, query = None, [], b""
    if case == "idempotency-key":
        headers = [(b"idempotency-key", uuid.uuid4().hex.encode())]
    elif case == "extra-field":
        body = {"selfie_id": who["selfie_id"], "style": STYLE, "note": "hi"}
    elif case == "unknown-style":
        body = {"selfie_id": who["selfie_id"], "style": "sepia"}
    elif case == "not-a-uuid":
        body = {"selfie_id": "42", "style": STYLE}
    elif case == "someone-elses-selfie":
        body = {"selfie_id": other["selfie_id"], "style": STYLE}
    elif case == "bad-token":
        who = {**who, "token": "nope" * 10}
    elif case == "html-wanted":
        headers = [(b"accept", b"text/html")]
    elif case == "query-string":
        query = b"format=json"
    elif case == "over-quota":
        settings.MAX_ACTIVE_JOBS_PER_USER = 0
    elif case == "idempotency_key":  # Django reads it as Idempotency-Key
        headers = [(b"idempotency_key", uuid.uuid4().hex.encode())]
    elif case == "http-where-https-is-required":
        settings.SECURE_SSL_REDIRECT = True
        front, view = make_apps()
    req = request(who, body=body, headers=headers, query=query)
    if case == "host-not-allowed":
        req["headers"][0] = (b"host", b"evil.example")
    if case == "form-body":
        req["headers"][1] = (b"content-type", b"application/x-www-form-urlencoded")

    status, _, answer = one(front, req)
    jobs_after_front = Job.objects.count()
    view_status, _, view_answer = one(view, req)

    if case in ("idempotency-key", "idempotency_key"):  # a replay: the same job twice
        assert status == view_status == 202 and answer == view_answer
        assert taken == []
        return
    if case in ("extra-field", "html-wanted", "query-string"):  # taken by the view
        assert status == view_status == 202 and jobs_after_front == 1
        assert taken == []
        return
    assert status == view_status != 202
    assert answer == view_answer
    assert not Job.objects.exists()


def test_a_batch_the_writer_cannot_write_goes_to_the_view(apps, api_user, monkeypatch):
    front, _ = apps

    def failing(requests):
        raise RuntimeError("the database went away")
    monkeypatch.setattr(intake, "jobs_create", failing)

    status, _, body = one(front, request(api_user()))

    assert status == 202
    assert Job.objects.filter(id=json.loads(body)["id"]).exists()


def test_a_client_that_left_while_its_submission_waited_gets_no_job(apps, api_user, monkeypatch):
    front, _ = apps
    first, gone = api_user(), api_user()
    held = FirstCallHeld(monkeypatch, intake, "jobs_create")
    leaving, leave = client_leaving(monkeypatch, intake._Submission)

    answered, left = asyncio.run(held.behind_first(front, request(first),
                                                   [(request(gone), leaving)],
                                                   before_release=leave))

    assert answered[0] == 202 and left is None
    assert held.sizes == [1], "the submission of a client that left reached the writer"
    assert list(Job.objects.values_list("user", flat=True)) == [first["user"].pk]


def test_written_jobs_whose_answer_fails_are_answered_500_and_never_written_again(
        apps, api_user, monkeypatch):
    front, _ = apps

    def failing(*args, **kwargs):
        raise RuntimeError("the presenter broke")
    monkeypatch.setattr(intake, "job_states", failing)

    status, headers, body = one(front, request(api_user()))

    assert status == 500
    assert json.loads(body) == {"message": "Something went wrong on our side. Please try again.",
                                "extra": {}}
    assert "x-request-id" in headers
    assert Job.objects.count() == 1


def test_a_body_without_a_declared_length_goes_to_the_view_whole(apps, api_user, taken):
    """Chunked, past the API's 64 KB: the view gets every byte, as it would without the
    intake (and reads a body of no declared length as empty, so answers 400)."""
    front, view = apps
    req = request(api_user())
    req["body"] = req["body"][:-1] + b" " * (140 * 1024) + b"}"
    req["headers"] = [header for header in req["headers"] if header[0] != b"content-length"]

    async def chunked(app):
        sent, chunks = [], [{"type": "http.request", "body": req["body"][i:i + 8192],
                             "more_body": i + 8192 < len(req["body"])}
                            for i in range(0, len(req["body"]), 8192)]

        async def receive():
            if chunks:
                return chunks.pop(0)
            await asyncio.Event().wait()

        async def record(message):
            sent.append(message)
        scope = {"type": "http", "method": "POST", "path": req["path"], "query_string": b"",
                 "http_version": "1.1", "headers": req["headers"],
                 "server": ("testserver", 80), "scheme": "http"}
        await app(scope, receive, record)
        return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:]), chunks

    status, body, unread = asyncio.run(chunked(front))
    view_status, view_body, _ = asyncio.run(chunked(view))

    assert taken == []
    assert (status, body) == (view_status, view_body)
    assert unread == [], "the view did not get the whole body"


def test_a_second_authorization_header_goes_to_the_view(apps, api_user, taken):
    front, view = apps
    who = api_user()
    req = request(who, headers=[(b"authorization", f"Token {who['token']}".encode())])

    assert one(front, req)[::2] == one(view, req)[::2]
    assert one(front, req)[0] == 401
    assert taken == []
