"""jobs/apis/intake.py: the common submission answered by the intake exactly as the view would
answer it, written in batches; everything else passed to the view unchanged."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid

import pytest
from django.core.handlers.wsgi import WSGIHandler
from django_prometheus.middleware import Metrics

from common.wsgi_threads import ThreadPoolWsgi
from jobs.apis import intake
from jobs.apis.intake import SubmissionIntake
from jobs.models import Job
from jobs.tests.apis.lanes import api_client, csp, one, send

pytestmark = pytest.mark.django_db(transaction=True)  # the writer thread sees the test's rows
STYLE = "cyberpunk-hero"
PER_REQUEST = {"location", "content-length", "x-request-id"}  # the server adds Date


@pytest.fixture
def make_apps():
    """(the lane in front of a thread pool, the thread pool alone: the view's answers), built
    with the settings of the moment (Django's middleware reads them once)."""
    fronts = []

    def make():
        pool = ThreadPoolWsgi(WSGIHandler(), threads=2, read_threads=1, max_body_bytes=1 << 20)
        fronts.append(SubmissionIntake(pool))
        return fronts[-1], pool
    yield make
    for front in fronts:
        front.close()


@pytest.fixture
def apps(make_apps):
    return make_apps()


@pytest.fixture
def client(make_selfie):
    return lambda **extra: api_client(make_selfie, **extra)


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
    sizes = []
    create = intake.jobs_create

    def counting(requests):
        sizes.append(len(requests))
        return create(requests)
    monkeypatch.setattr(intake, "jobs_create", counting)
    return sizes


def test_a_common_submission_is_answered_as_the_view_answers_it(apps, client, taken):
    front, view = apps
    who = client()

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


def test_the_request_id_is_kept_and_the_request_counted(apps, client, taken):
    front, _ = apps
    counted = Metrics.get_instance().responses_by_status_view_method.labels(
        status="202", view="api-jobs", method="POST")
    before = counted._value.get()

    _, headers, _ = one(front, request(client(), headers=[(b"x-request-id", b"phone-1234567")]))

    assert headers["x-request-id"] == "phone-1234567"
    assert counted._value.get() == before + 1


def test_submissions_that_arrive_while_a_batch_is_written_share_the_next(apps, client,
                                                                        monkeypatch):
    front, _ = apps
    people = [client() for _ in range(5)]
    create, sizes = intake.jobs_create, []
    writing, release = threading.Event(), threading.Event()

    def held(requests):
        sizes.append(len(requests))
        if len(sizes) == 1:
            writing.set()
            assert release.wait(30)
        return create(requests)
    monkeypatch.setattr(intake, "jobs_create", held)

    async def scenario():
        first = asyncio.ensure_future(send(front, request(people[0])))
        while not writing.is_set():  # the writer is inside the first batch
            await asyncio.sleep(0.01)
        rest = [asyncio.ensure_future(send(front, request(who))) for who in people[1:]]
        while front.batcher.queue.qsize() < 4:
            await asyncio.sleep(0.01)
        release.set()
        return await asyncio.gather(first, *rest)
    answers = asyncio.run(scenario())

    assert sizes == [1, 4]
    assert [status for status, _, _ in answers] == [202] * 5
    ids = {json.loads(body)["id"] for _, _, body in answers}
    assert set(map(str, Job.objects.values_list("id", flat=True))) == ids


@pytest.mark.parametrize("case", [
    "idempotency-key", "extra-field", "unknown-style", "not-a-uuid", "someone-elses-selfie",
    "bad-token", "html-wanted", "query-string", "over-quota", "inactive-user", "form-body",
    "idempotency_key", "http-where-https-is-required", "host-not-allowed"])
def test_what_the_intake_does_not_take_gets_the_views_answer(apps, make_apps, client, case,
                                                              settings, taken):
    front, view = apps
    who, other = client(is_active=case != "inactive-user"), client()
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


def test_a_batch_the_writer_cannot_write_goes_to_the_view(apps, client, monkeypatch):
    front, _ = apps

    def failing(requests):
        raise RuntimeError("the database went away")
    monkeypatch.setattr(intake, "jobs_create", failing)

    status, _, body = one(front, request(client()))

    assert status == 202
    assert Job.objects.filter(id=json.loads(body)["id"]).exists()


def test_a_client_that_left_while_its_submission_waited_gets_no_job(apps, client, monkeypatch):
    front, _ = apps
    first, gone = client(), client()
    create, writing, release = intake.jobs_create, threading.Event(), threading.Event()
    told = threading.Event()  # the server has told the waiting submission its client left
    on_receive = intake._Submission.on_receive

    def observed(submission, watcher):
        on_receive(submission, watcher)
        if submission.abandoned:
            told.set()
    monkeypatch.setattr(intake._Submission, "on_receive", observed)

    def held(requests):
        if not writing.is_set():
            writing.set()
            assert release.wait(30)
        return create(requests)
    monkeypatch.setattr(intake, "jobs_create", held)

    async def scenario():
        answered = asyncio.ensure_future(send(front, request(first)))
        while not writing.is_set():
            await asyncio.sleep(0.01)
        leaves = asyncio.Event()
        left = asyncio.ensure_future(send(front, request(gone), client_leaves=leaves))
        while front.batcher.queue.qsize() < 1:
            await asyncio.sleep(0.01)
        leaves.set()
        while not told.is_set():
            await asyncio.sleep(0.01)
        release.set()
        return await answered, await left
    answered, left = asyncio.run(scenario())

    assert answered[0] == 202 and left is None
    assert list(Job.objects.values_list("user", flat=True)) == [first["user"].pk]


def test_written_jobs_whose_answer_fails_are_answered_500_and_never_written_again(
        apps, client, monkeypatch):
    front, _ = apps

    def failing(*args, **kwargs):
        raise RuntimeError("the presenter broke")
    monkeypatch.setattr(intake, "job_states", failing)

    status, headers, body = one(front, request(client()))

    assert status == 500
    assert json.loads(body) == {"message": "Something went wrong on our side. Please try again.",
                                "extra": {}}
    assert "x-request-id" in headers
    assert Job.objects.count() == 1


def test_a_body_without_a_declared_length_goes_to_the_view_whole(apps, client, taken):
    """Chunked, past the API's 64 KB: the view gets every byte, as it would without the
    intake (and reads a body of no declared length as empty, so answers 400)."""
    front, view = apps
    req = request(client())
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


def test_a_second_authorization_header_goes_to_the_view(apps, client, taken):
    front, view = apps
    who = client()
    req = request(who, headers=[(b"authorization", f"Token {who['token']}".encode())])

    assert one(front, req)[::2] == one(view, req)[::2]
    assert one(front, req)[0] == 401
    assert taken == []
