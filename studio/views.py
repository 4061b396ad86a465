"""The studio pages (create, job, my videos, settings) and the service worker script."""

from __future__ import annotations

from collections import Counter

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.formats import date_format
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from accounts.services import user_set_email_notifications
from common.links import public_url
from jobs.models import JobStatus
from jobs.presenter import job_state, job_states
from jobs.s3 import signed_url
from jobs.selectors import job_get_for_user, job_list_for_user, job_share_path
from jobs.services.images import selfie_rules
from jobs.styles import STYLES
from studio.samples import SAMPLE_SELFIE

GALLERY_SIZE = 48


@login_required
def create(request):
    # The photo rules are the upload's own, so the page checks a pick the way the server will.
    return render(request, "studio/create.html", {"styles": list(STYLES.values()),
                                                  "rules": selfie_rules(),
                                                  "sample_selfie": SAMPLE_SELFIE})


def share_url(job) -> str:
    """The public link while the owner shares the video ("" otherwise)."""
    path = job_share_path(job)
    return public_url(path) if path else ""


@login_required
def job_detail(request, job_id):
    job = job_get_for_user(user=request.user, job_id=job_id)  # 404 for anyone else's job
    state = job_state(job)  # what the socket's snapshot and the API say, embedded for first paint
    return render(request, "studio/job.html", {"job": job, "state": state,
                                                "style": STYLES.get(job.style),
                                                "share_url": share_url(job),
                                                # the first paint shows the right buttons: no shift
                                                "terminal": job.is_terminal})


@login_required
@never_cache
def job_download(request, job_id):
    """Download button target: the video is on another origin (S3), where `<a download>` is
    ignored and the browser would navigate away to a bare player; a signed URL that asks S3 for
    `Content-Disposition: attachment` saves the file instead. 404 for anyone else's job."""
    job = job_get_for_user(user=request.user, job_id=job_id)
    if job.status != JobStatus.SUCCEEDED or not job.output_key:
        raise Http404("This video is not ready.")
    filename = f"surge-{job.style}-{str(job.id)[:8]}.mp4"
    return redirect(signed_url(job.output_key, content_type="video/mp4",
                               disposition=f'attachment; filename="{filename}"'))


@login_required
def videos(request):
    jobs = list(job_list_for_user(user=request.user)[:GALLERY_SIZE])
    cards = [{"job": job, "state": state, "style": STYLES.get(job.style)}
             for job, state in zip(jobs, job_states(jobs), strict=True)]
    for card, when in zip(cards, tile_times(cards), strict=True):
        card["when"] = when
    return render(request, "studio/videos.html", {"cards": cards})


def tile_times(cards: list[dict]) -> list[str]:
    """When each gallery video was made, as its tile shows it: "1 Dec 14:02", with seconds (then
    a number) where two videos of one style would read the same, so each tile's accessible name
    (style, time, status) is distinct."""
    def when(card, with_seconds=False):
        return date_format(timezone.localtime(card["job"].created_at),
                           "j M H:i:s" if with_seconds else "j M H:i")

    def title(card):
        return card["style"].title if card["style"] else card["job"].style

    times = [when(card) for card in cards]
    clashes = Counter((title(card), text) for card, text in zip(cards, times, strict=True))
    times = [when(card, with_seconds=True) if clashes[(title(card), text)] > 1 else text
             for card, text in zip(cards, times, strict=True)]
    seen: Counter = Counter()
    result = []
    for card, text in zip(cards, times, strict=True):
        seen[(title(card), text)] += 1
        count = seen[(title(card), text)]
        result.append(text if count == 1 else f"{text} ({count})")
    return result


@login_required
@require_http_methods(["GET", "POST"])
def notification_settings(request):
    if request.method == "POST":
        user_set_email_notifications(
            user=request.user, enabled=request.POST.get("email_notifications") == "on")
        messages.success(request, "Saved.")
        return redirect("notification-settings")
    return render(request, "studio/settings.html", {"push_available": bool(
        settings.VAPID_PUBLIC_KEY)})


@never_cache
def service_worker(request):
    """Served from the root so the worker's scope is the whole site."""
    with open(finders.find("studio/js/sw.js"), "rb") as script:
        response = HttpResponse(script.read(), content_type="text/javascript")
    response["Service-Worker-Allowed"] = "/"
    return response
