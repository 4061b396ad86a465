"""ASGI entry point: HTTP through Django's WSGI handler on a bounded thread pool, WebSockets
through Channels, both on one event loop (see common/wsgi_threads.py for why not Django's
ASGI handler); the common submission, status poll and provider webhook before them all,
answered in batches (common/fast_lane.py)."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
# Django must be set up before anything imports models (consumers, routing).
django.setup(set_prefix=False)

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402

from common.gc_tuning import freeze_startup_objects  # noqa: E402
from common.wsgi_threads import ThreadPoolWsgi  # noqa: E402
from jobs import s3  # noqa: E402
from jobs.apis.intake import SubmissionIntake  # noqa: E402
from jobs.apis.status_lane import StatusLane  # noqa: E402
from jobs.ops.counters import count_request_shed  # noqa: E402
from jobs.presenter import warm_up_urls  # noqa: E402
from jobs.webhook_lane import WebhookLane  # noqa: E402
from notifications.sockets.auth import OriginGuard, TokenAuthMiddlewareStack  # noqa: E402
from project.routing import websocket_urlpatterns  # noqa: E402
from project.urls import WEBHOOKS_PREFIX  # noqa: E402
from project.views import busy_page  # noqa: E402
from providers.webhooks import jwks  # noqa: E402

django_http = ThreadPoolWsgi(WSGIHandler(), threads=settings.WEB_THREADS,
                             read_threads=settings.WEB_READ_THREADS,
                             lanes={f"/{WEBHOOKS_PREFIX}": settings.WEB_WEBHOOK_THREADS},
                             max_body_bytes=settings.MAX_REQUEST_BODY_BYTES,
                             queue_timeout=settings.WEB_QUEUE_TIMEOUT, busy_page=busy_page,
                             on_shed=count_request_shed)
http = django_http
if settings.SUBMISSION_INTAKE:
    http = SubmissionIntake(http)
if settings.WEBHOOK_LANE:
    http = WebhookLane(http)
if settings.STATUS_LANE:
    http = StatusLane(http)
application = ProtocolTypeRouter({
    "http": http,
    # Session (same-origin browsers) or DRF token (mobile apps); see notifications/sockets/auth.py.
    "websocket": OriginGuard(TokenAuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
})

# What the first requests would otherwise build while a spike waits on them: every view module
# and URL table (imported and filled on first use), the S3 client, the JWKS client (fal's
# webhooks). Then kept out of the GC.
warm_up_urls()
s3.warm_up()
jwks.warm_up()
freeze_startup_objects()
