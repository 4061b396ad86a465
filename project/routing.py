"""WebSocket routes; the consumers live in notifications/."""

from django.urls import path

from notifications.consumers import JobConsumer, JobsConsumer

websocket_urlpatterns: list = [
    path("ws/jobs/", JobsConsumer.as_asgi()),
    # str, not uuid: a malformed id must get the same 4403 as another user's job.
    path("ws/jobs/<str:job_id>/", JobConsumer.as_asgi()),
]
