"""WebSocket routes; the consumers live in notifications/."""

websocket_urlpatterns: list = []
