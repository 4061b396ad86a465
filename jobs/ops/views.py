"""The operations dashboard (an admin page) and its JSON feed, both staff only."""

from __future__ import annotations

from django.contrib import admin
from django.http import JsonResponse
from django.template.response import TemplateResponse
from django.urls import reverse

from jobs.ops.selectors import ops_snapshot

REFRESH_SECONDS = 5


def dashboard(request):
    """The page renders the figures once; static/ops/dashboard.js refreshes them by polling."""
    context = {**admin.site.each_context(request), "title": "Operations dashboard",
               "snapshot": ops_snapshot(), "data_url": reverse("ops-dashboard-data"),
               "refresh_seconds": REFRESH_SECONDS}
    return TemplateResponse(request, "ops/dashboard.html", context)


def dashboard_data(request):
    response = JsonResponse(ops_snapshot())
    response["Cache-Control"] = "no-store"
    return response
