"""The REST API, the job's socket and its page tell a client the same about a job."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from unittest import mock

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import User
from jobs.models import Selfie
from jobs.services.jobs import job_enqueue
from jobs.services.transitions import job_transition
from project.asgi import application
from project.testing.sessions import signed_in_session_key
from project.testing.websocket import Communicator

pytestmark = pytest.mark.django_db(transaction=True)
SHARED = ("status", "stage", "progress", "queue_position", "eta_seconds", "provider", "error",
          "video_url", "thumbnail_url", "created_at", "updated_at")


def session_cookie(user) -> tuple[bytes, bytes]:
    return (b"cookie", f"sessionid={signed_in_session_key(user)}".encode())


async def receive(comm, type_: str) -> dict:
    while (message := await comm.receive_json_from())["type"] != type_:
        pass
    return message


def test_a_warming_job_looks_the_same_through_the_api_the_socket_and_the_page():
    """Status, stage, progress, place, ETA and URLs of a warming job agree everywhere (the API
    once promised a warm render while the socket promised a cold start)."""
    user = User.objects.create_user("ada@example.com", "neon-Skyline-4821")
    selfie = Selfie.objects.create(user=user, image="selfies/a.jpg", thumbnail="selfies/a-t.jpg",
                                   width=512, height=640)
    job = job_enqueue(user=user, selfie=selfie, style="cyberpunk-hero")
    for status in ("dispatching", "submitted"):
        job_transition(job_id=job.id, status=status, source="test")
    headers = [(b"host", b"127.0.0.1:8000"), (b"origin", b"http://127.0.0.1:8000"),
               session_cookie(user)]
    path = f"/ws/jobs/{job.id}/"
    # One instant for every reader: an ETA counts down, and this compares values, not timing.
    with mock.patch("django.utils.timezone.now", return_value=timezone.now() + timedelta(seconds=7)):
        async def sockets():
            live = Communicator(application, path, headers=headers)
            assert (await live.connect())[0]
            await receive(live, "snapshot")
            await database_sync_to_async(job_transition)(job_id=job.id, status="warming",
                                                         source="test")
            event = await receive(live, "job.event")
            await live.disconnect()
            fresh = Communicator(application, path, headers=headers)
            assert (await fresh.connect())[0]
            snapshot = (await receive(fresh, "snapshot"))["job"]
            await fresh.disconnect()
            return event, snapshot

        event, snapshot = async_to_sync(sockets)()
        api = APIClient()
        api.force_authenticate(user)
        body = api.get(f"/api/v1/jobs/{job.id}/").json()
        browser = Client()
        browser.force_login(user)
        html = browser.get(f"/app/jobs/{job.id}/").content.decode()
    page = json.loads(re.search(r'<script id="job-state" type="application/json">(.*?)</script>',
                                html, re.S).group(1))

    assert snapshot["status"] == "warming" and snapshot["eta_seconds"] > 0
    assert {key: body[key] for key in SHARED} == {key: snapshot[key] for key in SHARED}
    assert body["id"] == snapshot["job_id"] == str(job.id)
    assert {key: event[key] for key in ("status", "stage", "progress", "queue_position",
                                        "eta_seconds")} == {
        key: snapshot[key] for key in ("status", "stage", "progress", "queue_position",
                                       "eta_seconds")}
    assert page == snapshot
    # The API's URLs are absolute (on the origin the client called); the browser's are paths.
    assert body["page_url"] == f"http://testserver{snapshot['page_url']}"
    assert body["status_url"] == f"http://testserver{snapshot['status_url']}"
    assert body["events_url"] == f"ws://testserver{snapshot['events_url']}"
    assert snapshot["events_url"] == path
