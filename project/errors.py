"""Surge's own "not found" page for the site's pages in development too.

With DEBUG on, Django answers a 404 with its yellow technical page (URL patterns and all), and
never calls handler404. A person trying someone else's job link on `make run` should see what
production shows; the API keeps its JSON errors and the admin Django's page.
"""

from __future__ import annotations

from django.conf import settings

from project.views import page_not_found

DEVELOPER_PREFIXES = ("/api/", "/admin/", "/static/", "/__debug__/")


class FriendlyNotFoundMiddleware:
    """In DEBUG, replace Django's technical 404 page of a site page with Surge's 404."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (settings.DEBUG and response.status_code == 404
                and response.get("Content-Type", "").startswith("text/html")
                and not request.path.startswith(DEVELOPER_PREFIXES)):
            return page_not_found(request, None)
        return response
