"""The intake on the real web server, SIGKILLed while submissions stream in: every submission
answered 202 is a job with its first event, and a job written but never answered is whole too."""

from __future__ import annotations

import json
import threading
import time
import uuid

import httpx
import pytest
from knox.models import AuthToken

from accounts.models import User
from jobs.models import Job, JobEvent
from project.testing.live_app import LiveApp

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow, pytest.mark.timeout(300)]
CLIENTS = 8
BEFORE_KILL = 60  # 202s before the kill, and again after the restart
WAIT = 120  # a bound for a busy machine, not a pace


@pytest.fixture
def web():
    app = LiveApp(extra_env={"WEB_PROCESSES": "2", "MAX_ACTIVE_JOBS_PER_USER": "100000"})
    yield app
    app.stop()


def test_every_submission_answered_202_survives_a_sigkill_of_the_web_server(web, make_selfie):
    people = []
    for _ in range(CLIENTS):
        user = User.objects.create_user(f"{uuid.uuid4().hex[:10]}@example.com", "x-Strong-Pass-99")
        people.append({"token": AuthToken.objects.create(user)[1],
                       "body": {"selfie_id": str(make_selfie(user).id),
                                "style": "cyberpunk-hero"}})
    accepted, failed, stop = [], [], threading.Event()
    lock = threading.Lock()

    def submit(person):
        with httpx.Client(base_url=web.url, timeout=10,
                          headers={"Authorization": f"Token {person['token']}"}) as client:
            while not stop.is_set():
                try:
                    response = client.post("/api/v1/jobs/", json=person["body"])
                except httpx.TransportError:
                    with lock:
                        failed.append(1)
                    time.sleep(0.05)  # the server is down: do not spin on a refused port
                    continue
                assert response.status_code == 202, response.text
                with lock:
                    accepted.append(response.json()["id"])

    def wait_for(count: int) -> None:
        deadline = time.monotonic() + WAIT
        while len(accepted) < count:
            assert time.monotonic() < deadline, f"only {len(accepted)} answered 202"
            time.sleep(0.02)

    clients = [threading.Thread(target=submit, args=(person,)) for person in people]
    for thread in clients:
        thread.start()
    try:
        wait_for(BEFORE_KILL)
        web.kill_group("web")  # mid-stream: batches being written, answers on their way
        answered_before_kill = len(accepted)
        web.start_web()
        wait_for(answered_before_kill + BEFORE_KILL)
    finally:
        stop.set()
        for thread in clients:
            thread.join(30)

    written = set(map(str, Job.objects.values_list("id", flat=True)))
    assert set(accepted) <= written, "a job answered 202 was lost"
    assert len(accepted) == len(set(accepted))
    # A job written but unanswered (the kill came between commit and answer) is whole too.
    assert JobEvent.objects.filter(seq=1).count() == len(written)
    unanswered = written - set(accepted)
    assert len(unanswered) <= len(failed), json.dumps(sorted(unanswered))
