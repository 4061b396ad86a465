"""Top-level URLs: pages, the versioned API, docs, admin and health probes."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from accounts.urls import api_urlpatterns as accounts_api
from accounts.urls import page_urlpatterns as accounts_pages
from jobs.ops import urls as ops_urls
from jobs.ops.metrics import metrics_view
from jobs.urls import api_urlpatterns as jobs_api
from jobs.webhooks import provider_webhook
from notifications.urls import api_urlpatterns as notifications_api
from project import health, views
from studio.urls import page_urlpatterns as studio_pages
from studio.urls import share_urlpatterns as share_pages
from studio.views import service_worker

admin.site.index_template = "admin/surge_index.html"  # links the operations dashboard

api_v1 = [*notifications_api, *accounts_api, *jobs_api]
# The providers' webhooks; served on threads of their own (project/asgi.py).
WEBHOOKS_PREFIX = "webhooks/"

urlpatterns = [
    path("", views.landing, name="landing"),
    path("app/", include(studio_pages)),  # create (name "home"), jobs, videos, settings
    path("v/", include(share_pages)),  # shared videos: public, signed out
    path("sw.js", service_worker, name="service-worker"),
    path("accounts/", include(accounts_pages)),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file: no inline script for the CSP.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"),
         name="api-docs"),
    path(f"{WEBHOOKS_PREFIX}<slug:provider>/", provider_webhook, name="provider-webhook"),
    path("admin/ops/", include(ops_urls)),  # before admin/: the dashboard, staff only
    path("admin/", admin.site.urls),
    path("metrics", metrics_view, name="metrics"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # Last: any other /api/ URL is a JSON 404, also in DEBUG and for a POST without its slash.
    re_path(r"^api/", views.api_not_found),
]

handler403 = "project.views.permission_denied"
handler404 = "project.views.page_not_found"
handler500 = "project.views.server_error"
