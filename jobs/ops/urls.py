"""URLs of the operations dashboard, mounted under /admin/ops/ behind the admin's login."""

from django.contrib import admin
from django.urls import path

from jobs.ops import views

urlpatterns = [
    path("", admin.site.admin_view(views.dashboard), name="ops-dashboard"),
    path("data/", admin.site.admin_view(views.dashboard_data), name="ops-dashboard-data"),
]
