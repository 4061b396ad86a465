"""URLs of the studio pages (under /app/), shared videos (under /v/) and the service worker
(at the root)."""

from django.urls import path

from studio import account_views, sharing, views

page_urlpatterns = [
    path("", views.create, name="home"),
    path("jobs/<uuid:job_id>/", views.job_detail, name="job-detail"),
    path("jobs/<uuid:job_id>/download/", views.job_download, name="job-download"),
    path("videos/", views.videos, name="videos"),
    path("jobs/<uuid:job_id>/delete/", account_views.job_delete_page, name="job-delete"),
    path("settings/", views.notification_settings, name="notification-settings"),
    path("account/", account_views.account, name="account"),
    path("account/delete/", account_views.account_delete_page, name="account-delete"),
    path("photos/", account_views.photos, name="photos"),
    path("photos/<uuid:selfie_id>/delete/", account_views.photo_delete_page,
         name="photo-delete"),
]

# Tokens are matched as strings so a malformed one is the same 404 as an unknown one.
share_urlpatterns = [
    path("<str:token>/", sharing.share_page, name="share-page"),
    path("<str:token>/video.mp4", sharing.share_video, name="share-video"),
    path("<str:token>/poster.jpg", sharing.share_poster, name="share-poster"),
]
