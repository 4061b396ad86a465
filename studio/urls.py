"""URLs of the studio pages (under /app/) and the service worker (at the root)."""

from django.urls import path

from studio import views

page_urlpatterns = [
    path("", views.create, name="home"),
    path("jobs/<uuid:job_id>/", views.job_detail, name="job-detail"),
    path("jobs/<uuid:job_id>/download/", views.job_download, name="job-download"),
    path("videos/", views.videos, name="videos"),
    path("settings/", views.notification_settings, name="notification-settings"),
]
