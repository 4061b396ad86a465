"""Top-level URLs: pages, the versioned API, docs, admin and health probes."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts.urls import api_urlpatterns as accounts_api
from accounts.urls import page_urlpatterns as accounts_pages
from project import health, views

api_v1 = [*accounts_api]

urlpatterns = [
    path("", views.landing, name="landing"),
    path("app/", views.home, name="home"),
    path("accounts/", include(accounts_pages)),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]

handler404 = "project.views.page_not_found"
handler500 = "project.views.server_error"
