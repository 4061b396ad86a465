"""URLs of the studio pages and the notifications API."""

from django.urls import path

from notifications import apis, views

page_urlpatterns = [
    path("", views.create, name="home"),
    path("jobs/<uuid:job_id>/", views.job_detail, name="job-detail"),
    path("jobs/<uuid:job_id>/download/", views.job_download, name="job-download"),
    path("videos/", views.videos, name="videos"),
    path("settings/", views.notification_settings, name="notification-settings"),
]

api_urlpatterns = [
    path("notifications/", apis.NotificationListApi.as_view(), name="api-notifications"),
    path("notifications/<int:notification_id>/read/", apis.NotificationReadApi.as_view(),
         name="api-notification-read"),
    path("notifications/read-all/", apis.NotificationReadAllApi.as_view(),
         name="api-notifications-read-all"),
    path("notifications/settings/", apis.NotificationSettingsApi.as_view(),
         name="api-notification-settings"),
    path("push/key/", apis.PushKeyApi.as_view(), name="api-push-key"),
    path("push/subscribe/", apis.PushSubscribeApi.as_view(), name="api-push-subscribe"),
    path("push/unsubscribe/", apis.PushUnsubscribeApi.as_view(), name="api-push-unsubscribe"),
]
