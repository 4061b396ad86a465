"""WebSocket routes; the consumers live in notifications/sockets/."""

from channels.generic.websocket import WebsocketConsumer
from django.urls import path, re_path

from notifications.sockets.consumers import JobConsumer, JobsConsumer


class NoRouteConsumer(WebsocketConsumer):
    """Refuses the handshake (403); without a route the router would raise (a 500)."""

    def connect(self):
        self.close()


websocket_urlpatterns: list = [
    path("ws/jobs/", JobsConsumer.as_asgi()),
    # str, not uuid: a malformed id must get the same 4403 as another user's job.
    path("ws/jobs/<str:job_id>/", JobConsumer.as_asgi()),
    re_path(r"", NoRouteConsumer.as_asgi()),
]
