"""The public page of a shared video (/v/<token>/), signed out, and its stable media links.

Crawlers of chat apps fetch a preview's image and video long after the page, so the page names
/v/<token>/poster.jpg and /v/<token>/video.mp4, which redirect to freshly signed S3 URLs. Nothing
of the owner is shown: no email, no selfie, no job id.
"""

from __future__ import annotations

from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from common.links import public_url
from jobs.s3 import signed_url
from jobs.selectors import job_get_shared, job_share_path
from jobs.styles import style_get

DESCRIPTION = "A selfie turned into a short cinematic video with Surge. Make your own in a minute."


def _noindex(response):
    """Unlisted: shared by link, not for search engines (chat apps' crawlers ignore this)."""
    response["X-Robots-Tag"] = "noindex"
    return response


@never_cache  # turned off → 404 at once, not after a cache expires
def share_page(request, token: str):
    job = job_get_shared(token=token)
    style = style_get(job.style)
    title = f"{style.title if style else job.style} — made with Surge"
    media = {name: reverse(f"share-{name}", kwargs={"token": token}) for name in ("video", "poster")}
    return _noindex(render(request, "studio/share.html", {
        "title": title,
        "style_title": style.title if style else job.style,
        "description": DESCRIPTION,
        "page_url": public_url(job_share_path(job)),
        "video_path": media["video"],
        "video_url": public_url(media["video"]),
        "poster_path": media["poster"] if job.poster_key else "",
        "poster_url": public_url(media["poster"]) if job.poster_key else "",
        "call_to_action": reverse("home") if request.user.is_authenticated else reverse("signup"),
    }))


@never_cache
def share_video(request, token: str):
    job = job_get_shared(token=token)
    return _noindex(redirect(signed_url(job.output_key, content_type="video/mp4")))


@never_cache
def share_poster(request, token: str):
    job = job_get_shared(token=token)
    if not job.poster_key:
        raise Http404("This video has no poster.")
    return _noindex(redirect(signed_url(job.poster_key, content_type="image/jpeg")))
