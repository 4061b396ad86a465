"""jobs/apis/status_lane.py: the common status poll answered by the lane exactly as the view
would answer it, read in batches; everything else passed to the view unchanged."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from django_prometheus.middleware import Metrics

from jobs.apis import status_lane
from jobs.apis.status_lane import StatusLane
from jobs.models import JobStatus
from jobs.services.jobs import job_create
from jobs.services.transitions import job_transition
from jobs.tests.apis.lanes import (
    FirstCallHeld,
    call_sizes,
    client_leaving,
    csp,
    lane_apps,
    one,
)
from jobs.tests.finished import finished_job

pytestmark = pytest.mark.django_db(transaction=True)  # the reader thread sees the test's rows
PER_REQUEST = {"content-length", "x-request-id"}  # the server adds Date


@pytest.fixture
def make_apps():
    with lane_apps(StatusLane) as make:
        yield make


@pytest.fixture
def read(monkeypatch):
    """The sizes of the batches whose jobs the lane read."""
    return call_sizes(monkeypatch, status_lane, "jobs_of_users")


def a_job(who):
    return job_create(user=who["user"], selfie_id=who["selfie_id"], style="cyberpunk-hero")[0]


def poll(who, job_id, *, headers=(), path=None, query=b"", method="GET"):
    return {"method": method, "path": path or f"/api/v1/jobs/{job_id}/", "query": query,
            "body": b"", "headers": [(b"host", b"testserver"),
                                     (b"authorization", f"Token {who['token']}".encode()),
                                     *headers]}


@pytest.mark.parametrize("state", ["queued", "failed", "succeeded"])
def test_a_common_poll_is_answered_as_the_view_answers_it(apps, api_user, read, state):
    front, view = apps
    who = api_user()
    if state == "succeeded":
        job = finished_job(who["user"])
    else:
        a_job(api_user())  # one ahead in line
        job = a_job(who)
        if state == "failed":
            job_transition(job_id=job.id, status=JobStatus.FAILED, source="test",
                           fields={"error_code": "provider_error", "error_message": "It broke."})

    status, headers, body = one(front, poll(who, job.id))
    view_status, view_headers, view_body = one(view, poll(who, job.id))

    assert read == [1], "the lane did not take it"
    assert status == view_status == 200
    assert csp(headers) == csp(view_headers)
    assert {k: v for k, v in headers.items() if k not in PER_REQUEST} == \
        {k: v for k, v in view_headers.items() if k not in PER_REQUEST}
    assert PER_REQUEST <= headers.keys()
    assert json.loads(body) == json.loads(view_body)
    answer = json.loads(body)
    assert answer["id"] == str(job.id) and answer["status"] == state
    if state == "queued":
        assert answer["queue_position"] == 1 and answer["stage"].endswith("position 2")
    if state == "failed":
        assert answer["error"] == {"code": "provider_error", "message": "It broke."}
    if state == "succeeded":
        assert answer["video_url"].startswith("http")


def test_the_request_id_is_kept_and_the_request_counted(apps, api_user, read):
    front, _ = apps
    who = api_user()
    job = a_job(who)
    counted = Metrics.get_instance().responses_by_status_view_method.labels(
        status="200", view="api-job-detail", method="GET")
    before = counted._value.get()

    _, headers, _ = one(front, poll(who, job.id, headers=[(b"x-request-id", b"phone-1234567")]))

    assert read == [1]
    assert headers["x-request-id"] == "phone-1234567"
    assert counted._value.get() == before + 1


def test_polls_that_arrive_while_a_batch_is_read_share_the_next(apps, api_user, monkeypatch):
    front, _ = apps
    people = [api_user() for _ in range(5)]
    jobs = [a_job(who) for who in people]
    held = FirstCallHeld(monkeypatch, status_lane, "jobs_of_users")

    answers = asyncio.run(held.behind_first(front, poll(people[0], jobs[0].id), [
        poll(who, job.id) for who, job in zip(people[1:], jobs[1:], strict=True)]))

    assert held.sizes == [1, 4]
    assert [status for status, _, _ in answers] == [200] * 5
    assert [json.loads(body)["id"] for _, _, body in answers] == [str(job.id) for job in jobs]


@pytest.mark.parametrize("case", [
    "someone-elses-job", "unknown-job", "not-a-uuid", "bad-token", "inactive-user",
    "html-wanted", "query-string", "head", "events", "second-authorization", "no-token",
    "http-where-https-is-required", "host-not-allowed"])
def test_what_the_lane_does_not_answer_gets_the_views_answer(apps, make_apps, api_user, case,
                                                              read, settings):
    front, view = apps
    who, other = api_user(is_active=case != "inactive-user"), api_user()
    job = a_job(other if case == "someone-elses-job" else who)
    job_id, headers, path, query, method = job.id, [], None, b"", "GET"
    if case == "unknown-job":
        job_id = uuid.uuid4()
    elif case == "not-a-uuid":
        path = "/api/v1/jobs/42/"
    elif case == "bad-token":
        who = {**who, "token": "nope" * 10}
    elif case == "html-wanted":
        headers = [(b"accept", b"text/html")]
    elif case == "query-string":
        query = b"format=json"
    elif case == "head":
        method = "HEAD"
    elif case == "events":
        path = f"/api/v1/jobs/{job_id}/events/"
    elif case == "second-authorization":
        headers = [(b"authorization", f"Token {who['token']}".encode())]
    elif case == "http-where-https-is-required":
        settings.SECURE_SSL_REDIRECT = True
        front, view = make_apps()
    req = poll(who, job_id, headers=headers, path=path, query=query, method=method)
    if case == "no-token":
        req["headers"] = req["headers"][:1]
    elif case == "host-not-allowed":
        req["headers"][0] = (b"host", b"evil.example")

    status, headers, answer = one(front, req)
    view_status, view_headers, view_answer = one(view, req)

    if case == "html-wanted":  # DRF's browsable page: a new CSRF token in each
        assert headers["content-type"] == view_headers["content-type"] == "text/html; charset=utf-8"
    else:
        assert (status, answer) == (view_status, view_answer)
    expected = {"someone-elses-job": 404, "unknown-job": 404, "not-a-uuid": 404,
                "bad-token": 401, "inactive-user": 401, "second-authorization": 401,
                "no-token": 401, "http-where-https-is-required": 301,
                "host-not-allowed": 400}.get(case, 200)
    assert status == expected
    # Taken by the lane and passed on (no user: no job read; no job of that user), or not
    # taken at all.
    passed_on = {"someone-elses-job": [1], "unknown-job": [1], "bad-token": [0],
                 "inactive-user": [0]}
    assert read == passed_on.get(case, [])


def test_a_batch_the_reader_cannot_read_goes_to_the_view(apps, api_user, monkeypatch):
    front, view = apps
    who = api_user()
    job = a_job(who)

    def failing(*args, **kwargs):
        raise RuntimeError("the database went away")
    monkeypatch.setattr(status_lane, "job_states", failing)

    status, _, body = one(front, poll(who, job.id))

    assert status == 200
    assert json.loads(body)["id"] == str(job.id)


def test_a_client_that_left_while_its_poll_waited_is_not_answered(apps, api_user, monkeypatch):
    front, _ = apps
    first, gone = api_user(), api_user()
    first_job, gone_job = a_job(first), a_job(gone)
    held = FirstCallHeld(monkeypatch, status_lane, "jobs_of_users")
    leaving, leave = client_leaving(monkeypatch, status_lane._Poll)

    answered, left = asyncio.run(held.behind_first(front, poll(first, first_job.id),
                                                   [(poll(gone, gone_job.id), leaving)],
                                                   before_release=leave))

    assert answered[0] == 200 and left is None
    assert held.sizes == [1], "the poll of a client that left was read"


def test_each_poll_gets_the_urls_of_the_origin_it_called(make_apps, api_user, settings, read):
    """Behind a proxy, over https and over http, on two hosts: the lane's answers follow each
    request's own headers, as the view's do, however many came before by another way."""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_HSTS_SECONDS = 3600
    settings.ALLOWED_HOSTS = ["testserver", "surge.example"]
    front, view = make_apps()
    who = api_user()
    job = a_job(who)
    ways = [(b"testserver", b"https"), (b"testserver", b"http"), (b"surge.example", b"https"),
            (b"surge.example", None)]
    for _ in range(2):
        for host, scheme in ways:
            req = poll(who, job.id, headers=[(b"x_forwarded_proto", scheme)] if scheme else [])
            req["headers"][0] = (b"host", host)
            status, headers, body = one(front, req)
            assert (status, body) == one(view, req)[::2]
            expected = f"{'https' if scheme == b'https' else 'http'}://{host.decode()}"
            assert json.loads(body)["status_url"].startswith(expected + "/api/v1/jobs/")
            assert ("strict-transport-security" in headers) == (scheme == b"https")
    assert read == [1] * 8, "the lane did not answer them all"
