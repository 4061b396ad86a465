"""The notifications API: list, mark read, email preference, Web Push subscriptions."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.services import user_set_email_notifications
from common.exceptions import ApplicationError
from common.fields import StrictBooleanField, StrictCharField
from common.schema import error_responses
from jobs.apis.base import query_data
from notifications.deliveries import selectors, services
from notifications.models import Notification

AUTH_ERRORS = error_responses(_401="Not signed in (send `Authorization: Token …`).")


class NotificationSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=["job_succeeded", "job_failed"])
    title = serializers.CharField()
    body = serializers.CharField()
    style = serializers.CharField(allow_null=True, help_text="The job's style slug.")
    style_title = serializers.CharField(allow_null=True, help_text="e.g. 'Cyberpunk hero'.")
    thumbnail_url = serializers.URLField(
        allow_null=True, help_text="A frame of the video (else the selfie); signed, 15 minutes.")
    job_id = serializers.UUIDField(allow_null=True)
    url = serializers.CharField(allow_null=True, help_text="The page of the job.")
    read_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField()


class NotificationPagination(CursorPagination):
    page_size = 20
    ordering = ("-created_at", "-id")

    def get_paginated_response(self, data):
        return Response({"next": self.get_next_link(), "previous": self.get_previous_link(),
                         "unread_count": self.unread_count, "results": data})


class NotificationListApi(APIView):
    class FilterSerializer(serializers.Serializer):
        unread = serializers.BooleanField(required=False, help_text="Only unread ones.")

    class OutputSerializer(serializers.Serializer):
        next = serializers.URLField(allow_null=True)
        previous = serializers.URLField(allow_null=True)
        unread_count = serializers.IntegerField()
        results = NotificationSerializer(many=True)

    @extend_schema(operation_id="notifications_list",
                   parameters=[FilterSerializer,
                               OpenApiParameter("cursor", str, description="From next/previous.")],
                   responses={200: OutputSerializer, **AUTH_ERRORS, **error_responses(
                       _400="Invalid `unread`.", _404="Invalid cursor.")})
    def get(self, request):
        """Newest first, cursor-paginated: `{next, previous, unread_count, results}`."""
        filters = self.FilterSerializer(data=query_data(request))
        filters.is_valid(raise_exception=True)
        notifications = selectors.notification_list_for_user(user=request.user)
        if filters.validated_data.get("unread"):
            notifications = notifications.filter(read_at__isnull=True)
        paginator = NotificationPagination()
        paginator.unread_count = selectors.notification_unread_count(user=request.user)
        page = paginator.paginate_queryset(notifications, request, view=self)
        data = [selectors.notification_payload(item) for item in page]
        return paginator.get_paginated_response(NotificationSerializer(data, many=True).data)


class UnreadCountSerializer(serializers.Serializer):
    unread_count = serializers.IntegerField()


class NotificationReadApi(APIView):
    class OutputSerializer(UnreadCountSerializer):
        notification = NotificationSerializer()

    @extend_schema(operation_id="notifications_read", request=None,
                   responses={200: OutputSerializer,
                              **error_responses(_404="No such notification of yours."),
                              **AUTH_ERRORS})
    def post(self, request, notification_id: int):
        try:
            notification = services.notification_mark_read(user=request.user,
                                                           notification_id=notification_id)
        except Notification.DoesNotExist:
            raise ApplicationError("No such notification.", status_code=404) from None
        return Response({"notification": selectors.notification_payload(notification),
                         "unread_count": selectors.notification_unread_count(user=request.user)})


class NotificationReadAllApi(APIView):
    class OutputSerializer(UnreadCountSerializer):
        marked = serializers.IntegerField()

    @extend_schema(operation_id="notifications_read_all", request=None,
                   responses={200: OutputSerializer, **AUTH_ERRORS})
    def post(self, request):
        marked = services.notification_mark_all_read(user=request.user)
        return Response({"marked": marked, "unread_count": 0})


class NotificationSettingsApi(APIView):
    class Serializer(serializers.Serializer):
        email_notifications = StrictBooleanField()

    @extend_schema(operation_id="notifications_settings_get",
                   responses={200: Serializer, **AUTH_ERRORS})
    def get(self, request):
        return Response({"email_notifications": request.user.email_notifications})

    @extend_schema(operation_id="notifications_settings_update", request=Serializer,
                   responses={200: Serializer, **error_responses(400), **AUTH_ERRORS})
    def patch(self, request):
        data = self.Serializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        if "email_notifications" in data.validated_data:
            user_set_email_notifications(
                user=request.user, enabled=data.validated_data["email_notifications"])
        return Response({"email_notifications": request.user.email_notifications})


class PushKeyApi(APIView):
    class OutputSerializer(serializers.Serializer):
        public_key = serializers.CharField(allow_null=True,
                                           help_text="VAPID applicationServerKey; null: push off.")

    @extend_schema(operation_id="push_key", responses={200: OutputSerializer, **AUTH_ERRORS})
    def get(self, request):
        return Response({"public_key": settings.VAPID_PUBLIC_KEY or None})


class PushSubscribeApi(APIView):
    class InputSerializer(serializers.Serializer):
        class Keys(serializers.Serializer):
            p256dh = StrictCharField(max_length=200)
            auth = StrictCharField(max_length=100)

        endpoint = serializers.URLField(max_length=1000)
        keys = Keys()

    @extend_schema(operation_id="push_subscribe", request=InputSerializer,
                   responses={201: None, **error_responses(400), **AUTH_ERRORS})
    def post(self, request):
        """Send `PushSubscription.toJSON()` from the browser."""
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.push_subscription_save(user=request.user, endpoint=data.validated_data["endpoint"],
                                        **data.validated_data["keys"])
        return Response(status=status.HTTP_201_CREATED)


class PushUnsubscribeApi(APIView):
    class InputSerializer(serializers.Serializer):
        endpoint = serializers.URLField(max_length=1000)

    @extend_schema(operation_id="push_unsubscribe", request=InputSerializer,
                   responses={204: None, **error_responses(400), **AUTH_ERRORS})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.push_subscription_delete(user=request.user,
                                          endpoint=data.validated_data["endpoint"])
        return Response(status=status.HTTP_204_NO_CONTENT)
