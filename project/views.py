"""Site-wide pages: the landing page, the signed-in home, and JSON errors under /api/."""

import functools

from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views import defaults
from django.views.decorators.csrf import csrf_exempt

from common.api import SERVER_ERROR_MESSAGE, json_error
from common.wsgi_threads import busy_json
from jobs.styles import STYLES
from studio.samples import SAMPLE_RESULT, SAMPLE_RESULT_POSTER, SAMPLE_SELFIE, SAMPLE_STYLE


def landing(request):
    if request.user.is_authenticated:
        return redirect("home")
    return render(request, "landing.html", {
        "styles": list(STYLES.values()), "sample_style": STYLES[SAMPLE_STYLE],
        "sample_selfie": SAMPLE_SELFIE, "sample_result": SAMPLE_RESULT,
        "sample_poster": SAMPLE_RESULT_POSTER})


@csrf_exempt  # a JSON 404, not Django's HTML CSRF 403, for a POST with a session cookie
def api_not_found(request):
    if not request.path.endswith("/"):
        return json_error(404, "Not found. API URLs end with a slash.")
    return json_error(404)


@functools.cache
def _busy_html() -> bytes:
    return render_to_string("503.html").encode()


def busy_page(path: str) -> tuple[str, bytes]:
    """The 503 a web process answers, without running a view, to a request that waited past
    WEB_QUEUE_TIMEOUT (common/wsgi_threads.py): JSON for the API, Surge's error page for a
    browser. Rendered once: it says the same to everyone."""
    if path.startswith("/api/"):
        return busy_json(path)
    return "text/html; charset=utf-8", _busy_html()


def page_not_found(request, exception):
    if request.path.startswith("/api/"):
        return json_error(404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if request.path.startswith("/api/"):
        return json_error(500, SERVER_ERROR_MESSAGE)
    return defaults.server_error(request)


def permission_denied(request, exception):
    if request.path.startswith("/api/"):
        return json_error(403)
    return defaults.permission_denied(request, exception)
