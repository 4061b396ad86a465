"""Sharing a finished video: turn its public page on (the link) or off."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from common.links import public_url
from common.schema import error_responses
from jobs.apis.base import UserApi, uuid_path
from jobs.selectors import job_share_path
from jobs.services.sharing import job_share, job_unshare


class JobShareApi(UserApi):
    class OutputSerializer(serializers.Serializer):
        share_url = serializers.URLField(
            help_text="The video's public page: works signed out, unfurls in chat apps, never "
                      "expires while shared.")

    @extend_schema(operation_id="job_share", request=None, parameters=[uuid_path("job_id")],
                   responses={200: OutputSerializer, **error_responses(
                       401, 404, _409="Only a finished video can be shared.")})
    def post(self, request, job_id):
        """Turn the public page on (sharing twice keeps the link; after turning it off, a
        new link)."""
        job = job_share(user=request.user, job_id=job_id)
        return Response({"share_url": public_url(job_share_path(job))})

    @extend_schema(operation_id="job_unshare", request=None, parameters=[uuid_path("job_id")],
                   responses={204: None, **error_responses(401, 404)})
    def delete(self, request, job_id):
        """Turn the public page off: its link answers 404 from now on."""
        job_unshare(user=request.user, job_id=job_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
