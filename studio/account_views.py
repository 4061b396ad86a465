"""The account pages: the account overview, My photos, and deleting a video, a photo or the
account, each after a confirmation page (no script: a GET asks, a POST deletes)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import AnonymousUser
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from common.exceptions import ApplicationError
from common.ratelimit import client_ip
from jobs.models import ACTIVE_STATUSES
from jobs.selectors import (
    job_get_for_user,
    selfie_get_for_user,
    selfie_ids_in_use,
    selfie_list_for_user,
    selfie_thumbnail_url,
)
from jobs.services.deletion import account_delete, job_delete
from jobs.services.selfies import selfie_delete
from jobs.styles import STYLES


@login_required
def account(request):
    return render(request, "studio/account.html", {
        "photo_count": selfie_list_for_user(user=request.user).count()})


@login_required
def photos(request):
    selfies, in_use = selfie_list_for_user(user=request.user), selfie_ids_in_use(user=request.user)
    return render(request, "studio/photos.html", {
        "photos": [{"selfie": selfie, "thumbnail_url": selfie_thumbnail_url(selfie),
                    "in_use": selfie.id in in_use} for selfie in selfies]})


def _confirm(request, *, context: dict, error: ApplicationError | None = None):
    status = error.status_code if error else 200
    return render(request, "studio/confirm_delete.html",
                  {**context, "error": error.message if error else None}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def job_delete_page(request, job_id):
    job = job_get_for_user(user=request.user, job_id=job_id)  # 404 for anyone else's job
    style = STYLES.get(job.style)
    title = style.title if style else job.style
    context = {"heading": "Delete this video?", "thing": f"{title} video",
               "thumbnail_url": selfie_thumbnail_url(job.selfie), "when": job.created_at,
               "back_url": reverse("job-detail", kwargs={"job_id": job.id})}
    if job.status in ACTIVE_STATUSES and request.method == "GET":
        context["blocked"] = True
    if request.method == "POST":
        try:
            job_delete(user=request.user, job_id=job.id)
        except ApplicationError as error:
            return _confirm(request, context={**context, "blocked": True}, error=error)
        messages.success(request, f"Deleted the {title} video.")
        return redirect("videos")
    return _confirm(request, context=context)


@login_required
@require_http_methods(["GET", "POST"])
def photo_delete_page(request, selfie_id):
    selfie = selfie_get_for_user(user=request.user, selfie_id=selfie_id)
    context = {"heading": "Delete this photo?", "thing": "photo",
               "thumbnail_url": selfie_thumbnail_url(selfie), "when": selfie.created_at,
               "note": "Videos made from it stay, but can no longer be retried.",
               "back_url": reverse("photos")}
    if request.method == "POST":
        try:
            selfie_delete(user=request.user, selfie_id=selfie.id)
        except ApplicationError as error:
            return _confirm(request, context=context, error=error)
        messages.success(request, "Deleted the photo.")
        return redirect("photos")
    return _confirm(request, context=context)


@login_required
@require_http_methods(["GET", "POST"])
def account_delete_page(request):
    error = None
    if request.method == "POST":
        try:
            account_delete(user=request.user, password=request.POST.get("password", ""),
                           ip=client_ip(request))
        except ApplicationError as refused:
            error = refused
        else:
            # The user's sessions and sockets are gone with the row; this browser forgets it too.
            request.session.flush()
            request.user = AnonymousUser()
            messages.success(request, "Your account and everything in it were deleted. "
                                      "A confirmation email is on its way.")
            return redirect("landing")
    return render(request, "studio/account_delete.html",
                  {"error": error.message if error else None},
                  status=error.status_code if error else 200)
