"""Jobs: submit (202 at once), status, list, timeline, cancel, retry, delete."""

from __future__ import annotations

import re

from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from common.api import represent, validated
from common.exceptions import ApplicationError
from common.fields import StrictCharField
from common.links import request_origin
from common.schema import error_responses
from jobs.apis.base import (
    CURSOR_PARAMETERS,
    UserApi,
    page_serializer,
    paginate,
    query_data,
    uuid_path,
)
from jobs.models import Job, JobStatus
from jobs.presenter import JobState, job_states
from jobs.selectors import job_events_after, job_get_for_user, job_list_for_user
from jobs.services.deletion import job_delete
from jobs.services.jobs import job_cancel, job_create, job_retry
from jobs.styles import STYLES

IDEMPOTENCY_KEY = re.compile(r"[\x20-\x7e]{1,255}")
IDEMPOTENCY_PARAMETER = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, required=False,
    description="1–255 printable ASCII characters, scoped to you and kept 24 h. The same key "
                "and body returns the same job (202); another body gives 422; a retry while "
                "the first request is still running gives 409.")


@extend_schema_field({"type": "string", "enum": sorted(STYLES)})
class StyleField(StrictCharField):
    """A style slug, checked by job_create: a reused Idempotency-Key is answered (422) first."""


class JobErrorSerializer(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()


class JobOutputSerializer(serializers.Serializer):
    """Renders the presenter's job state (jobs/presenter.py); it computes nothing itself."""

    id = serializers.UUIDField(source="job_id")
    status = serializers.ChoiceField(choices=JobStatus.choices)
    stage = serializers.CharField(help_text="What to show the user, e.g. 'In line — position 3'.")
    progress = serializers.FloatField(help_text="0 to 1.")
    queue_position = serializers.IntegerField(
        allow_null=True, help_text="Jobs ahead of this one (0 = next); null unless queued.")
    eta_seconds = serializers.IntegerField(allow_null=True)
    provider = serializers.CharField(allow_null=True)
    error = JobErrorSerializer(allow_null=True)
    video_url = serializers.URLField(allow_null=True,
                                     help_text="Signed for 15 minutes; only once succeeded.")
    thumbnail_url = serializers.URLField(allow_null=True, help_text="The selfie's thumbnail.")
    page_url = serializers.URLField(help_text="The job's page in the browser.")
    status_url = serializers.URLField(help_text="This job (GET).")
    events_url = serializers.CharField(help_text="WebSocket URL of this job's live events.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class JobAcceptedSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="job_id")
    status = serializers.ChoiceField(choices=JobStatus.choices)
    stage = serializers.CharField()
    progress = serializers.FloatField()
    queue_position = serializers.IntegerField(allow_null=True)
    eta_seconds = serializers.IntegerField(allow_null=True)
    created_at = serializers.DateTimeField()
    status_url = serializers.URLField(help_text="Poll this (GET).")
    events_url = serializers.CharField(help_text="WebSocket URL of this job's live events.")
    page_url = serializers.URLField(help_text="The job's page in the browser.")


def job_bodies(request, jobs: list[Job], *, new: bool = False) -> list[JobState]:
    """The presenter's states of these jobs, with URLs on the origin the client called."""
    return job_states(jobs, origin=request_origin(request), new=new)


def job_location(job: Job) -> str:
    return reverse("api-job-detail", kwargs={"job_id": job.id})


def accepted(request, job: Job, *, new: bool = True, **headers: str) -> Response:
    """202 with the job and its Location; `new` unless an Idempotency-Key replayed it."""
    body = represent(JobAcceptedSerializer, job_bodies(request, [job], new=new)[0])
    return Response(body, status=status.HTTP_202_ACCEPTED,
                    headers={"Location": job_location(job), **headers})


class JobCreateApi(UserApi):
    parser_classes = [JSONParser]

    class InputSerializer(serializers.Serializer):
        selfie_id = serializers.UUIDField()
        style = StyleField(max_length=64, help_text="A slug from GET /styles/.")

    @extend_schema(
        operation_id="job_create", request=InputSerializer, parameters=[IDEMPOTENCY_PARAMETER],
        responses={202: OpenApiResponse(JobAcceptedSerializer,
                                        description="Queued (or the replay of an earlier "
                                                    "request with the same Idempotency-Key)."),
                   **error_responses(401, 413, 415, _400="Unknown selfie or style, or an "
                                     "invalid Idempotency-Key header.",
                                     _409="A request with this Idempotency-Key is in progress.",
                                     _422="Idempotency-Key reused with another body.",
                                     _429="Too many videos in progress (see Retry-After).")})
    def post(self, request):
        key = _idempotency_key(request)
        job, replayed = job_create(user=request.user, idempotency_key=key,
                                   **validated(self.InputSerializer, request.data))
        return accepted(request, job, new=not replayed,
                        **({"Idempotent-Replayed": "true"} if replayed else {}))


def _idempotency_key(request) -> str | None:
    value = request.headers.get("Idempotency-Key")
    if value is None:
        return None
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]  # the draft's Structured-Field string form: "abc"
    if not IDEMPOTENCY_KEY.fullmatch(value):
        raise ApplicationError("The Idempotency-Key header must be 1–255 printable ASCII "
                               "characters.", extra={"Idempotency-Key": ["Invalid."]})
    return value


class JobListApi(UserApi):
    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=JobStatus.choices, required=False)

    @extend_schema(operation_id="job_list", parameters=[FilterSerializer, *CURSOR_PARAMETERS],
                   responses={200: page_serializer("JobPage", JobOutputSerializer),
                              **error_responses(401, _400="Unknown status or invalid page_size.",
                                                _404="Invalid cursor.")})
    def get(self, request):
        filters = self.FilterSerializer(data=query_data(request))
        filters.is_valid(raise_exception=True)
        paginator, page = paginate(self, job_list_for_user(user=request.user,
                                                           **filters.validated_data))
        data = JobOutputSerializer(job_bodies(request, page), many=True).data
        return paginator.get_paginated_response(data)


class JobCollectionApi(JobCreateApi, JobListApi):
    """/jobs/: POST submits, GET lists (two operations sharing one URL)."""


class JobDetailApi(UserApi):
    @extend_schema(operation_id="job_detail", parameters=[uuid_path("job_id")],
                   responses={200: JobOutputSerializer, **error_responses(401, 404)})
    def get(self, request, job_id):
        job = job_get_for_user(user=request.user, job_id=job_id)
        return Response(represent(JobOutputSerializer, job_bodies(request, [job])[0]))

    @extend_schema(operation_id="job_delete", request=None, parameters=[uuid_path("job_id")],
                   description="Delete a finished (succeeded, failed or canceled) job: its "
                               "video in storage, its timeline and its notifications.",
                   responses={204: None, **error_responses(
                       401, 404, _409="The job is still running: cancel it first.")})
    def delete(self, request, job_id):
        job_delete(user=request.user, job_id=job_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class JobEventListApi(UserApi):
    class FilterSerializer(serializers.Serializer):
        after = serializers.IntegerField(min_value=0, required=False, default=0,
                                         help_text="Only events with a greater seq.")

    class OutputSerializer(serializers.Serializer):
        seq = serializers.IntegerField()
        status = serializers.ChoiceField(choices=JobStatus.choices)
        stage = serializers.CharField()
        progress = serializers.FloatField()
        at = serializers.DateTimeField()
        detail = serializers.DictField()

    @extend_schema(operation_id="job_events", parameters=[uuid_path("job_id"), FilterSerializer],
                   responses={200: OutputSerializer(many=True),
                              **error_responses(401, 404, _400="Invalid `after`.")})
    def get(self, request, job_id):
        filters = self.FilterSerializer(data=query_data(request))
        filters.is_valid(raise_exception=True)
        job = job_get_for_user(user=request.user, job_id=job_id)
        events = job_events_after(job=job, after=filters.validated_data["after"])
        return Response(self.OutputSerializer(events, many=True).data)


class JobCancelApi(UserApi):
    @extend_schema(operation_id="job_cancel", request=None, parameters=[uuid_path("job_id")],
                   responses={202: JobOutputSerializer, **error_responses(
                       401, 404, _409="The job has already finished.")})
    def post(self, request, job_id):
        job = job_cancel(user=request.user, job_id=job_id)
        return Response(represent(JobOutputSerializer, job_bodies(request, [job])[0]),
                        status=status.HTTP_202_ACCEPTED)


class JobRetryApi(UserApi):
    @extend_schema(operation_id="job_retry", request=None, parameters=[uuid_path("job_id")],
                   responses={202: OpenApiResponse(JobAcceptedSerializer,
                                                   description="The new job."),
                              **error_responses(401, 404, _409="Only failed or canceled jobs "
                                                "can be retried, with their selfie.",
                                                _429="Too many videos in progress.")})
    def post(self, request, job_id):
        return accepted(request, job_retry(user=request.user, job_id=job_id))
