"""The WebSocket consumers on the real channel layer (the session's Redis)."""

from __future__ import annotations

from unittest import mock

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.db import database_sync_to_async
from django.core.cache import cache

from accounts.services import token_issue
from jobs.eta import DEFAULT_WARMUP_SECONDS, MEASURED_KEY
from jobs.events import send_job_event
from jobs.models import Job, JobEvent
from jobs.ops import counters
from jobs.presenter import job_event_message
from jobs.services.transitions import job_transition
from notifications.sockets import gauge, queue_broadcast
from notifications.tests.conftest import make_job
from project.asgi import application
from project.testing.sessions import signed_in_session_key
from project.testing.websocket import Communicator

pytestmark = pytest.mark.django_db(transaction=True)
# A same-origin page: the socket's own scheme, Host and port.
HOST, ORIGIN = (b"host", b"127.0.0.1:8000"), (b"origin", b"http://127.0.0.1:8000")


def session_cookie(user) -> tuple[bytes, bytes]:
    return (b"cookie", f"sessionid={signed_in_session_key(user)}".encode())


def communicator(path: str, *headers) -> Communicator:
    return Communicator(application, path, headers=[HOST, ORIGIN, *headers])


async def receive_until(comm, type_: str) -> dict:
    while True:
        message = await comm.receive_json_from()
        if message["type"] == type_:
            return message


transition = database_sync_to_async(job_transition)


def run(coroutine_function):
    """Run an async test body on an event loop, with the DB reachable from sync_to_async."""
    return async_to_sync(coroutine_function)()


async def closed_with(comm) -> int:
    connected, _ = await comm.connect()
    assert connected  # accepted first, so the client can read the code
    output = await comm.receive_output()
    assert output["type"] == "websocket.close"
    return output["code"]


def test_anonymous_sockets_are_closed_with_4401(user):
    """Without a session or token both sockets close with 4401."""
    async def body():
        job = await database_sync_to_async(make_job)(user)
        assert await closed_with(communicator("/ws/jobs/")) == 4401
        assert await closed_with(communicator(f"/ws/jobs/{job.id}/")) == 4401
        assert await closed_with(communicator("/ws/jobs/?token=not-a-token")) == 4401
    run(body)


def test_another_users_job_and_a_missing_one_both_close_with_4403(user, other_user):
    """Someone else's job, a nonexistent id and a malformed id are indistinguishable."""
    cookie = session_cookie(other_user)
    async def body():
        job = await database_sync_to_async(make_job)(user)
        for job_id in (job.id, "00000000-0000-0000-0000-000000000000", "nope"):
            assert await closed_with(communicator(f"/ws/jobs/{job_id}/", cookie)) == 4403
    run(body)


def test_cross_site_origin_is_refused_but_token_without_origin_works(user, token):
    """A foreign page can't ride the session; a native app without Origin uses its token."""
    cookie = session_cookie(user)
    async def body():
        evil = Communicator(application, "/ws/jobs/",
                            headers=[(b"origin", b"https://evil.example"), cookie])
        connected, _ = await evil.connect()
        assert not connected
        no_origin_cookie = Communicator(application, "/ws/jobs/", headers=[cookie])
        assert await closed_with(no_origin_cookie) == 4401
        for comm in (Communicator(application, f"/ws/jobs/?token={token}"),
                     Communicator(application, "/ws/jobs/",
                                  headers=[(b"authorization", f"Token {token}".encode())])):
            connected, _ = await comm.connect()
            assert connected
            assert (await comm.receive_json_from())["type"] == "snapshot"
            await comm.disconnect()
    run(body)


def test_the_origin_must_match_in_scheme_host_and_port(user, settings):
    """Another port of this host (the S3 port, a dev server on :9999), another scheme or a
    `null` origin can't ride the session; our own origin and CSRF_TRUSTED_ORIGINS can."""
    settings.CSRF_TRUSTED_ORIGINS = ["https://surge.example", "https://*.surge.example"]
    cookie = session_cookie(user)

    async def accepted(origin: bytes, host: bytes = b"127.0.0.1:8000") -> bool:
        comm = Communicator(application, "/ws/jobs/",
                            headers=[(b"host", host), (b"origin", origin), cookie])
        connected, _ = await comm.connect()
        if connected:
            assert (await comm.receive_json_from())["type"] == "snapshot"
            await comm.disconnect()
        return connected

    async def body():
        assert await accepted(b"http://127.0.0.1:8000")
        for foreign in (b"http://127.0.0.1:8002", b"http://localhost:9999",
                        b"http://127.0.0.1", b"https://127.0.0.1:8000", b"null",
                        b"http://surge.example", b"https://evil.example"):
            assert not await accepted(foreign), foreign
        # Behind a proxy the Host may differ: the public origin is trusted by configuration.
        assert await accepted(b"https://surge.example", host=b"127.0.0.1:8000")
        assert await accepted(b"https://app.surge.example", host=b"127.0.0.1:8000")
        assert not await accepted(b"https://surge.example:8443", host=b"127.0.0.1:8000")
        # A Host outside ALLOWED_HOSTS makes nothing same-origin.
        assert not await accepted(b"http://evil.example:8000", host=b"evil.example:8000")
    run(body)


def test_job_socket_sends_a_snapshot_then_live_events_in_order(user):
    """The snapshot has the current fields; then one message per event, in seq order."""
    cookie = session_cookie(user)
    async def body():
        job = await database_sync_to_async(make_job)(user)
        comm = communicator(f"/ws/jobs/{job.id}/", cookie)
        assert (await comm.connect())[0]
        snapshot = await comm.receive_json_from()
        assert snapshot["type"] == "snapshot"
        assert snapshot["job"]["job_id"] == str(job.id)
        assert snapshot["job"]["status"] == "queued" and snapshot["job"]["seq"] == 1
        assert snapshot["job"]["queue_position"] == 0 and snapshot["job"]["eta_seconds"] > 0
        for status, progress in [("dispatching", None), ("submitted", None), ("warming", None),
                                 ("rendering", 0.25), ("rendering", 0.5), ("saving", None)]:
            await transition(job_id=job.id, status=status, progress=progress, source="test")
        events = [await receive_until(comm, "job.event") for _ in range(6)]
        assert [e["seq"] for e in events] == [2, 3, 4, 5, 6, 7]
        assert [e["status"] for e in events][-3:] == ["rendering", "rendering", "saving"]
        assert events[4]["progress"] == 0.5 and events[4]["eta_seconds"] > 0
        assert "user_id" not in events[0] and events[0]["queue_position"] is None
        await transition(job_id=job.id, status="failed", source="test",
                         fields={"error_code": "provider_error", "error_message": "GPU melted"})
        failed = await receive_until(comm, "job.event")
        assert failed["error"] == {"code": "provider_error", "message": "GPU melted"}
        await comm.disconnect()
    run(body)


def test_resume_with_after_replays_missed_events_without_gaps_or_duplicates(user):
    """A reconnect with ?after=<seq> gets the missed events from the timeline, then live ones."""
    cookie = session_cookie(user)
    async def body():
        job = await database_sync_to_async(make_job)(user)
        for status in ("dispatching", "submitted", "warming"):
            await transition(job_id=job.id, status=status, source="test")
        comm = communicator(f"/ws/jobs/{job.id}/?after=2", cookie)
        assert (await comm.connect())[0]
        snapshot = await comm.receive_json_from()
        assert snapshot["type"] == "snapshot" and snapshot["job"]["seq"] == 4
        replayed = [await comm.receive_json_from() for _ in range(2)]
        assert [(e["seq"], e["status"], e["replay"]) for e in replayed] == [
            (3, "submitted", True), (4, "warming", True)]
        # A late delivery of an old event (already replayed) must not be sent again.
        old = await database_sync_to_async(
            lambda: job_event_message(Job.objects.get(pk=job.id),
                                      JobEvent.objects.get(job=job, seq=4)))()
        await database_sync_to_async(send_job_event)(old)
        await transition(job_id=job.id, status="rendering", progress=0.1, source="test")
        live = await receive_until(comm, "job.event")
        assert (live["seq"], live["status"]) == (5, "rendering")
        assert await comm.receive_nothing(timeout=0.3)
        await comm.disconnect()
    run(body)


def test_a_lost_live_message_is_filled_in_from_the_timeline(user):
    """If seq N+2 arrives while N+1 never did, the consumer sends N+1 from the database first."""
    cookie = session_cookie(user)
    async def body():
        job = await database_sync_to_async(make_job)(user)
        comm = communicator(f"/ws/jobs/{job.id}/", cookie)
        assert (await comm.connect())[0]
        await comm.receive_json_from()  # snapshot at seq 1

        def two_transitions_first_message_lost():
            with mock.patch("jobs.services.transitions.send_job_event"):
                job_transition(job_id=job.id, status="dispatching", source="test")
            job_transition(job_id=job.id, status="submitted", source="test")

        await database_sync_to_async(two_transitions_first_message_lost)()
        first, second = await receive_until(comm, "job.event"), await receive_until(comm, "job.event")
        assert [(first["seq"], first["status"]), (second["seq"], second["status"])] == [
            (2, "dispatching"), (3, "submitted")]
        await comm.disconnect()
    run(body)


def test_user_socket_snapshots_active_and_recent_jobs_and_streams_them(user, other_user):
    """ws/jobs/ lists the user's jobs (never others'), then forwards events of all of them."""
    cookie = session_cookie(user)
    async def body():
        done = await database_sync_to_async(make_job)(user)
        await transition(job_id=done.id, status="canceled", source="test")
        active = await database_sync_to_async(make_job)(user)
        await database_sync_to_async(make_job)(other_user)
        comm = communicator("/ws/jobs/", cookie)
        assert (await comm.connect())[0]
        snapshot = await comm.receive_json_from()
        assert snapshot["type"] == "snapshot" and snapshot["unread_count"] == 0
        assert [j["job_id"] for j in snapshot["jobs"]] == [str(active.id), str(done.id)]
        assert snapshot["jobs"][0]["queue_position"] == 0  # fair share: first job of each user
        new = await database_sync_to_async(make_job)(user)
        event = await receive_until(comm, "job.event")
        assert (event["job_id"], event["seq"], event["status"]) == (str(new.id), 1, "queued")
        await transition(job_id=active.id, status="dispatching", source="test")
        event = await receive_until(comm, "job.event")
        assert (event["job_id"], event["status"]) == (str(active.id), "dispatching")
        await comm.disconnect()
    run(body)


def test_queue_positions_are_coalesced_and_sent_only_when_they_change(user, other_user, settings,
                                                                     broadcast_worker):
    """Many dispatches in a burst give the waiting client a few position updates, not one each."""
    settings.QUEUE_BROADCAST_INTERVAL = 0.3
    cookie = session_cookie(other_user)
    async def body():
        ahead = [await database_sync_to_async(make_job)(user) for _ in range(6)]
        mine = await database_sync_to_async(make_job)(other_user)
        comm = communicator(f"/ws/jobs/{mine.id}/", cookie)
        assert (await comm.connect())[0]
        snapshot = await comm.receive_json_from()
        # Fair share: bob's first job goes before ada's second.
        assert snapshot["job"]["queue_position"] == 1
        # The creation burst's broadcasts pass first: only the dispatches' ones are counted.
        await sync_to_async(queue_broadcast.wait_for_trailing_broadcasts)()
        while not await comm.receive_nothing(timeout=0.3):
            await comm.receive_json_from()
        for job in ahead:
            await transition(job_id=job.id, status="dispatching", source="test")
        updates = [await comm.receive_json_from()]  # until bob is next, however slow the box
        while (updates[-1]["type"], updates[-1].get("queue_position")) != ("queue.position", 0):
            updates.append(await comm.receive_json_from())
        await sync_to_async(queue_broadcast.wait_for_trailing_broadcasts)()
        while not await comm.receive_nothing(timeout=1.0):  # (a timed-out receive kills the app)
            updates.append(await comm.receive_json_from())
        positions = [u["queue_position"] for u in updates if u["type"] == "queue.position"]
        assert positions and positions[-1] == 0
        assert len(positions) <= 3  # leading edge + trailing edge, not six
        assert len(set(positions)) == len(positions)  # no repeats of an unchanged position
        assert all(u["type"] != "job.event" for u in updates)  # others' events never reach bob
        await comm.disconnect()
    run(body)


def test_notification_created_reaches_the_users_sockets(user, settings):
    """A finished job's notification arrives live with the new unread count."""
    settings.TASKS_RUN_INLINE = True
    cookie = session_cookie(user)
    async def body():
        job = await database_sync_to_async(make_job)(user)
        comm = communicator(f"/ws/jobs/{job.id}/", cookie)
        assert (await comm.connect())[0]
        await comm.receive_json_from()
        await transition(job_id=job.id, status="failed", source="test",
                         fields={"error_message": "No face found in the selfie."})
        message = await receive_until(comm, "notification.created")
        assert message["unread_count"] == 1
        assert message["notification"]["title"] == "Your Cyberpunk hero video failed"
        assert message["notification"]["style_title"] == "Cyberpunk hero"
        assert message["notification"]["url"] == f"/app/jobs/{job.id}/"
        await comm.disconnect()
    run(body)


def test_client_messages_are_ignored(user):
    """Whatever a client sends (even non-JSON) doesn't break the stream."""
    cookie = session_cookie(user)
    async def body():
        job = await database_sync_to_async(make_job)(user)
        comm = communicator(f"/ws/jobs/{job.id}/", cookie)
        assert (await comm.connect())[0]
        await comm.receive_json_from()
        await comm.send_to(text_data="not json {")
        await transition(job_id=job.id, status="dispatching", source="test")
        assert (await receive_until(comm, "job.event"))["seq"] == 2
        await comm.disconnect()
    run(body)


def test_drop_mid_render_and_resume_sees_every_seq_exactly_once(user, token):
    """A token client reads from seq 1 (?after=0), drops mid-render, misses events while away,
    resumes with ?after=<last seq> while more events are being committed: across both
    connections every seq from 1 to the last arrives exactly once, in order."""
    async def events_until(comm, stop) -> list[dict]:
        got = []
        while True:
            message = await comm.receive_json_from()
            if message["type"] == "job.event":
                got.append(message)
                if stop(message):
                    return got

    async def body():
        job = await database_sync_to_async(make_job)(user)
        for status in ("dispatching", "submitted", "warming"):
            await transition(job_id=job.id, status=status, source="test")
        first = Communicator(application, f"/ws/jobs/{job.id}/?token={token}&after=0")
        assert (await first.connect())[0]
        assert (await first.receive_json_from())["type"] == "snapshot"
        await transition(job_id=job.id, status="rendering", progress=0.1, source="test")
        seen = await events_until(first, lambda m: m["seq"] == 5)
        await first.disconnect()  # the phone goes through a tunnel
        for progress in (0.3, 0.5):
            await transition(job_id=job.id, status="rendering", progress=progress, source="test")
        second = Communicator(
            application, f"/ws/jobs/{job.id}/?token={token}&after={seen[-1]['seq']}")
        assert (await second.connect())[0]
        snapshot = await second.receive_json_from()
        assert snapshot["type"] == "snapshot" and snapshot["job"]["progress"] == 0.5
        for progress in (0.8, 1.0):
            await transition(job_id=job.id, status="rendering", progress=progress, source="test")
        await transition(job_id=job.id, status="saving", source="test")
        seen += await events_until(second, lambda m: m["status"] == "saving")
        assert await second.receive_nothing(timeout=0.3)
        await second.disconnect()
        assert [m["seq"] for m in seen] == list(range(1, 11))
        assert [m.get("replay", False) for m in seen[5:7]] == [True, True]  # missed while away
    run(body)


def test_a_token_for_another_user_is_refused_with_4403_and_a_bad_one_with_4401(user, other_user):
    """Token auth (query or header) gets the same refusals as the session."""
    async def body():
        job = await database_sync_to_async(make_job)(user)
        other = await database_sync_to_async(lambda: token_issue(user=other_user))()
        path = f"/ws/jobs/{job.id}/"
        assert await closed_with(Communicator(application, f"{path}?token={other}")) == 4403
        header = (b"authorization", f"Token {other}".encode())
        assert await closed_with(Communicator(application, path, headers=[header])) == 4403
        assert await closed_with(Communicator(application, f"{path}?token=x{other}")) == 4401
    run(body)


def test_a_warming_job_is_promised_a_cold_start_not_a_warm_render(user):
    """While the model boots, the ETA includes the measured (or default) boot time; the warm
    render median alone promised ~5 s for a 40 s cold start."""


    cache.delete(MEASURED_KEY)  # no cold starts measured: the default
    cookie = session_cookie(user)
    async def body():
        job = await database_sync_to_async(make_job)(user)
        comm = communicator(f"/ws/jobs/{job.id}/", cookie)
        assert (await comm.connect())[0]
        await comm.receive_json_from()
        for status in ("dispatching", "submitted", "warming"):
            await transition(job_id=job.id, status=status, source="test")
        warming = [await receive_until(comm, "job.event") for _ in range(3)][-1]
        assert warming["status"] == "warming" and warming["eta_seconds"] >= DEFAULT_WARMUP_SECONDS
        await comm.disconnect()
        again = communicator(f"/ws/jobs/{job.id}/", cookie)
        assert (await again.connect())[0]
        snapshot = await again.receive_json_from()
        assert snapshot["job"]["eta_seconds"] >= DEFAULT_WARMUP_SECONDS - 5
        await transition(job_id=job.id, status="rendering", progress=0.5, source="test")
        rendering = await receive_until(again, "job.event")
        assert rendering["eta_seconds"] < warming["eta_seconds"]
        await again.disconnect()
    run(body)


def test_the_all_jobs_socket_gets_one_positions_frame_per_pass(user, other_user, broadcast_worker):
    """When the line moves, a user with several waiting jobs gets one frame, not one per job."""
    cookie = session_cookie(user)
    async def body():
        mine = [await database_sync_to_async(make_job)(user) for _ in range(3)]
        ahead = await database_sync_to_async(make_job)(other_user)
        comm = communicator("/ws/jobs/", cookie)
        assert (await comm.connect())[0]
        await receive_until(comm, "snapshot")
        await transition(job_id=mine[0].id, status="dispatching", source="test")
        await transition(job_id=ahead.id, status="dispatching", source="test")
        frame = await receive_until(comm, "queue.positions")
        while frame["jobs"][-1]["queue_position"] != 1:  # until the pass after both changes
            frame = await receive_until(comm, "queue.positions")
        assert [(entry["job_id"], entry["queue_position"]) for entry in frame["jobs"]] == [
            (str(mine[1].id), 0), (str(mine[2].id), 1)]
        assert frame["changed_at"]
        await comm.disconnect()
    run(body)


def test_open_sockets_are_counted_in_redis_for_metrics(user):
    """Each open socket counts in this process's Redis gauge (read by /metrics); closing uncounts."""
    cookie = session_cookie(user)

    async def body():
        before = gauge.open_sockets()
        comms = [communicator("/ws/jobs/", cookie) for _ in range(2)]
        for comm in comms:
            assert (await comm.connect())[0]
            await receive_until(comm, "snapshot")
        assert gauge.open_sockets() == before + 2
        assert await sync_to_async(counters.gauge_sum)(counters.WEBSOCKETS) == before + 2
        for comm in comms:
            await comm.disconnect()
        assert gauge.open_sockets() == before
        assert await sync_to_async(counters.gauge_sum)(counters.WEBSOCKETS) == before
    run(body)


def test_live_messages_are_forwarded_without_a_hop_to_a_thread(user):
    """Channels closes stale database connections on a thread before every message; the
    consumers read the database only through database_sync_to_async (which does that itself),
    so a spike's stream of messages costs no thread hop each."""
    cookie = session_cookie(user)
    async def body():
        job = await database_sync_to_async(make_job)(user)
        comm = communicator(f"/ws/jobs/{job.id}/", cookie)
        assert (await comm.connect())[0]
        await comm.receive_json_from()
        with mock.patch("channels.consumer.aclose_old_connections") as hop:
            await transition(job_id=job.id, status="dispatching", source="test")
            assert (await receive_until(comm, "job.event"))["seq"] == 2
        assert hop.call_count == 0
        await comm.disconnect()
    run(body)
