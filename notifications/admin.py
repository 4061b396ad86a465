"""Admin for notifications and push subscriptions."""

from django.contrib import admin

from notifications.models import Notification, PushSubscription


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "kind", "title", "read_at"]
    list_filter = ["kind"]
    raw_id_fields = ["user", "job"]


@admin.register(PushSubscription)
class PushSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["created_at", "user", "endpoint"]
    raw_id_fields = ["user"]
