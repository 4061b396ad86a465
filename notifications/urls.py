"""URLs of the notifications API."""

from django.urls import path

from notifications import apis

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
