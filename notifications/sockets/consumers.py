"""WebSocket consumers: authenticate, join groups, send a snapshot, forward events in order.

ws/jobs/ streams all of the user's jobs; ws/jobs/<id>/ one job (with ?after=<seq> to resume).
Handlers are named after the channel-layer message type they receive.
"""

from __future__ import annotations

from urllib.parse import parse_qs

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.http import Http404

from jobs.events import job_group, user_group
from jobs.selectors import job_get_for_user
from notifications.deliveries.selectors import notification_unread_count
from notifications.sockets import gauge, selectors
from notifications.sockets.auth import signed_out

UNAUTHENTICATED = 4401
FORBIDDEN = 4403  # another user's job or no such job: the same code, so nothing leaks


class JobStreamConsumer(AsyncJsonWebsocketConsumer):
    """Shared by both sockets: per-job seq bookkeeping, gap filling, position coalescing."""

    groups_to_join: list[str]

    async def connect(self):
        user = self.scope["user"]
        await self.accept()  # accept first so the client can read the close code
        self.counted = True
        await gauge.socket_opened()
        if not user.is_authenticated:
            await self.close(code=UNAUTHENTICATED)
            return
        self.user = user
        self.last_seq: dict[str, int] = {}
        self.positions: dict[str, tuple] = {}
        try:
            await self.start()
        except Http404:
            await self.close(code=FORBIDDEN)

    async def dispatch(self, message):
        """Channels' dispatch, without closing stale database connections first: that is a hop
        to a thread for every message, and a socket gets hundreds a minute in a spike (a sixth
        of the web processes' time in one). Every read here goes through
        database_sync_to_async, which closes them itself."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    async def join(self, *groups: str) -> None:
        # Join BEFORE reading state: anything committed later reaches us as a live event.
        self.joined = list(groups)
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)

    async def disconnect(self, code):
        if getattr(self, "counted", False):
            self.counted = False
            await gauge.socket_closed()
        for group in getattr(self, "joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        pass  # the protocol is server → client only; don't even parse what clients send

    def wants(self, job_id: str) -> bool:
        return True

    def remember(self, state: dict) -> None:
        self.last_seq[state["job_id"]] = state["seq"]
        self.positions[state["job_id"]] = (state["queue_position"], state["eta_seconds"])

    async def job_event(self, message):
        job_id, seq = message["job_id"], message["seq"]
        if not self.wants(job_id):
            return
        last = self.last_seq.get(job_id)
        if last is not None and seq <= last:
            return  # already in the snapshot, the replay, or sent via the other group
        if last is not None and seq > last + 1:
            # An event went missing (a reordered or dropped message): fill from the timeline.
            for missed in await database_sync_to_async(selectors.live_events_after)(
                    job_id=job_id, after=last, until=seq - 1):
                await self.send_json(missed)
        self.last_seq[job_id] = seq
        self.positions.pop(job_id, None)
        await self.send_json(selectors.client_event(message))

    async def queue_positions(self, message):
        changed = []
        for entry in message["jobs"]:
            job_id = entry["job_id"]
            position = (entry["queue_position"], entry["eta_seconds"])
            if not self.wants(job_id) or self.positions.get(job_id) == position:
                continue  # unchanged positions are not news
            self.positions[job_id] = position
            changed.append({"job_id": job_id, "seq": self.last_seq.get(job_id),
                            "queue_position": entry["queue_position"],
                            "eta_seconds": entry["eta_seconds"]})
        if changed:
            await self.send_positions(changed, changed_at=message.get("changed_at"))

    async def send_positions(self, changed: list[dict], *, changed_at: str | None) -> None:
        """One frame per pass for all of the user's jobs: a line of thousands moves every job
        at once, and a frame per job would cost the event loop jobs × sockets sends."""
        await self.send_json({"type": "queue.positions", "jobs": changed,
                              "changed_at": changed_at})

    async def auth_revoked(self, message):
        """Logout, password change or reset: old credentials must not keep a socket open."""
        if signed_out(self.scope, message):
            await self.close(code=UNAUTHENTICATED)

    async def notification_created(self, message):
        await self.send_json({"type": "notification.created",
                              "notification": message["notification"],
                              "unread_count": message["unread_count"]})


class JobsConsumer(JobStreamConsumer):
    """ws/jobs/: a snapshot of the user's active and recent jobs, then all their events."""

    async def start(self):
        await self.join(user_group(self.user.pk))
        jobs, unread = await self._load()
        for state in jobs:
            self.remember(state)
        await self.send_json({"type": "snapshot", "jobs": jobs, "unread_count": unread})

    @database_sync_to_async
    def _load(self):
        return (selectors.jobs_snapshot(user=self.user),
                notification_unread_count(user=self.user))


class JobConsumer(JobStreamConsumer):
    """ws/jobs/<id>/: a snapshot of one job, the events missed since ?after=<seq>, then live."""

    def wants(self, job_id: str) -> bool:
        return job_id == self.job_id

    async def send_positions(self, changed: list[dict], *, changed_at: str | None) -> None:
        for entry in changed:  # this socket's one job
            await self.send_json({"type": "queue.position", **entry, "changed_at": changed_at})

    async def start(self):
        # Checked before joining: a stranger never joins the job's group.
        self.job_id = await self._owned_job_id(self.scope["url_route"]["kwargs"]["job_id"])
        # The user group carries queue positions and notifications (for the bell).
        await self.join(job_group(self.job_id), user_group(self.user.pk))
        state, replay, unread = await self._load(self._after())
        self.remember(state)
        await self.send_json({"type": "snapshot", "job": state, "unread_count": unread})
        for event in replay:
            await self.send_json({**event, "replay": True})

    def _after(self) -> int | None:
        values = parse_qs(self.scope.get("query_string", b"").decode("latin1")).get("after")
        try:
            return max(0, int(values[0])) if values else None
        except ValueError:
            return None

    @database_sync_to_async
    def _owned_job_id(self, job_id) -> str:
        return str(job_get_for_user(user=self.user, job_id=job_id).id)

    @database_sync_to_async
    def _load(self, after):
        state = selectors.job_snapshot(user=self.user, job_id=self.job_id)
        replay = ([] if after is None else
                  selectors.live_events_after(job_id=self.job_id, after=after, until=state["seq"]))
        return state, replay, notification_unread_count(user=self.user)
