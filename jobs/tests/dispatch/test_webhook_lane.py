"""jobs/webhook_lane.py: webhooks about jobs we know received in batches, one transaction
each, answered as the view answers them; everything else passed to the view unchanged."""

from __future__ import annotations

import asyncio
import json

import pytest

from accounts.models import User
from jobs import webhook_lane
from jobs.models import Job, JobStatus, WebhookInbox
from jobs.ops import counters
from jobs.tests.apis.lanes import FirstCallHeld, lane_apps, one
from jobs.tests.dispatch.test_webhook_view import prediction, signed
from jobs.webhook_lane import WebhookLane

pytestmark = pytest.mark.django_db(transaction=True)  # the lane's thread sees the test's rows
PER_REQUEST = {"content-length", "x-request-id"}


@pytest.fixture
def apps(replicate_settings):
    """(the lane in front of a thread pool, the thread pool alone: the view's answers)."""
    with lane_apps(WebhookLane, lanes={"/webhooks/": 1}) as make:
        yield make()


@pytest.fixture
def received(monkeypatch):
    """The number of webhooks the lane received in each of its batches' transactions."""
    sizes = []
    answer, webhook_answer = webhook_lane.WebhookLane.answer, webhook_lane.webhook_answer

    def batch(self, deliveries):
        sizes.append(0)
        return answer(self, deliveries)

    def counting(provider, events, *, reference):
        sizes[-1] += 1
        return webhook_answer(provider, events, reference=reference)
    monkeypatch.setattr(webhook_lane.WebhookLane, "answer", batch)
    monkeypatch.setattr(webhook_lane, "webhook_answer", counting)
    return sizes


def jobs(count):
    user = User.objects.create_user("w@example.com", "x-Strong-Pass-99")
    return [Job.objects.create(user=user, style="cyberpunk-hero", status=JobStatus.SUBMITTED,
                               provider="primary", provider_job_id=f"pred{n}", last_seq=0)
            for n in range(count)]


def delivery(body: dict, *, msg_id=None, path="/webhooks/primary/", query=b"",
             tamper=None, method="POST"):
    payload, meta = signed(body, msg_id=msg_id)
    if tamper == "body":
        payload = payload.replace("processing", "succeeded")
    headers = [(b"host", b"testserver"), (b"content-type", b"application/json"),
               (b"content-length", str(len(payload)).encode())]
    headers += [(name[len("HTTP_"):].lower().replace("_", "-").encode(), value.encode())
                for name, value in meta.items()]
    return {"method": method, "path": path, "query": query, "body": payload.encode(),
            "headers": headers}


def test_a_webhook_is_answered_as_the_view_answers_it(apps, received):
    front, view = apps
    first, second = jobs(2)

    status, headers, body = one(front, delivery(prediction("pred0")))
    view_status, view_headers, view_body = one(view, delivery(prediction("pred1")))

    assert received == [1], "the lane did not take it"
    assert status == view_status == 200
    assert body == view_body == b'{"received": 1, "applied": 1}'
    assert {k: v for k, v in headers.items() if k not in PER_REQUEST} == \
        {k: v for k, v in view_headers.items() if k not in PER_REQUEST}
    assert PER_REQUEST <= headers.keys()
    for job in (first, second):
        job.refresh_from_db()
        assert (job.status, job.progress) == (JobStatus.RENDERING, pytest.approx(0.4))
    assert counters.totals(counters.WEBHOOKS) == {"verified": 2}


def test_webhooks_that_arrive_while_a_batch_is_received_share_the_next(apps, received,
                                                                      monkeypatch):
    front, _ = apps
    all_jobs = jobs(5)
    held = FirstCallHeld(monkeypatch, webhook_lane, "webhook_jobs_known")

    answers = asyncio.run(held.behind_first(front, delivery(prediction("pred0")), [
        delivery(prediction(f"pred{n}")) for n in range(1, 5)]))

    assert received == [1, 4]
    assert [(status, body) for status, _, body in answers] == \
        [(200, b'{"received": 1, "applied": 1}')] * 5
    assert {job.status for job in Job.objects.filter(pk__in=[j.pk for j in all_jobs])} == \
        {JobStatus.RENDERING}


@pytest.mark.parametrize("case", ["bad-signature", "unknown-provider", "unknown-job", "get",
                                  "duplicate", "with-reference"])
def test_what_the_lane_does_not_receive_gets_the_views_answer(apps, received, case):
    front, view = apps
    job = jobs(1)[0]
    req = delivery(prediction("pred0"), tamper="body" if case == "bad-signature" else None,
                   path="/webhooks/nobody/" if case == "unknown-provider" else
                   "/webhooks/primary/", method="GET" if case == "get" else "POST",
                   query=f"ref={job.id}.1".encode() if case == "with-reference" else b"")
    if case == "unknown-job":
        Job.objects.filter(pk=job.pk).update(provider_job_id="")
    if case == "duplicate":
        assert one(front, req)[0] == 200
        received.clear()

    status, _, body = one(front, req)

    expected = {"bad-signature": 403, "unknown-provider": 404, "get": 405}.get(case, 200)
    assert status == expected, body
    # Received by the lane; taken and passed on (nothing received in its batch); or never
    # taken (a GET).
    by_lane = {"duplicate": [1], "with-reference": [1], "get": []}
    assert received == by_lane.get(case, [0])
    inbox = list(WebhookInbox.objects.values_list("result", "duplicate", "reference"))
    if case == "bad-signature":
        assert inbox == [("refused", False, "")], "refused once, by the view"
    elif case == "unknown-job":
        assert inbox == [("unknown", False, "")], "filed by the view, to apply when recorded"
        assert json.loads(body) == {"received": 1, "applied": 0}
    elif case == "duplicate":
        assert sorted(inbox) == [("applied", False, ""), ("duplicate", True, "")]
        assert json.loads(body) == {"received": 1, "applied": 0}
        assert counters.totals(counters.WEBHOOKS) == {"verified": 1, "duplicate": 1}
    elif case == "with-reference":
        assert inbox == [("applied", False, f"{job.id}.1")]
    del view  # the view's own answers are tested in test_webhook_view.py


def test_a_batch_that_cannot_be_written_leaves_nothing_and_goes_to_the_view(apps,
                                                                             monkeypatch):
    front, _ = apps
    first, second = jobs(2)
    answer, calls = webhook_lane.webhook_answer, []

    def failing_second(provider, events, *, reference):
        calls.append(provider)
        body = answer(provider, events, reference=reference)
        if len(calls) == 2:  # the second of the batch below, after the first was received
            raise RuntimeError("the database went away")
        return body
    monkeypatch.setattr(webhook_lane, "webhook_answer", failing_second)
    held = FirstCallHeld(monkeypatch, webhook_lane, "webhook_jobs_known")

    # A first webhook holds the lane, so that the next two share a batch.
    answers = asyncio.run(held.behind_first(front, delivery(prediction("pred0")), [
        delivery(prediction(pid, logs=" 70%|#######   | 35/50")) for pid in ("pred0", "pred1")]))

    assert [status for status, _, _ in answers] == [200] * 3
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.progress, second.progress) == (pytest.approx(0.7), pytest.approx(0.7))
    # Each filed once: the batch's writes were undone, then the view received each alone.
    assert WebhookInbox.objects.filter(duplicate=False).count() == 3
    assert not WebhookInbox.objects.filter(duplicate=True).exists()
    assert counters.totals(counters.WEBHOOKS) == {"verified": 3}
