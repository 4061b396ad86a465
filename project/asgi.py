"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
# Django must be set up before anything imports models (consumers, routing).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from notifications.middleware import OriginGuard, TokenAuthMiddlewareStack  # noqa: E402
from project.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter({
    "http": django_asgi_app,
    # Session (same-origin browsers) or DRF token (mobile apps); see notifications/middleware.py.
    "websocket": OriginGuard(TokenAuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
})
