"""Direct-to-S3 uploads for mobile clients: a presigned POST, then POST /selfies/ {upload_id}."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from common.fields import StrictIntegerField
from common.schema import error_responses
from jobs.apis.base import UserApi
from jobs.services.images import ALLOWED_CONTENT_TYPES, MAX_BYTES
from jobs.services.selfies import upload_create


class UploadCreateApi(UserApi):
    parser_classes = [JSONParser]

    class InputSerializer(serializers.Serializer):
        content_type = serializers.ChoiceField(
            choices=list(ALLOWED_CONTENT_TYPES), error_messages={
                "invalid_choice": f"Choose one of: {', '.join(ALLOWED_CONTENT_TYPES)}."})
        size = StrictIntegerField(min_value=1, max_value=MAX_BYTES,
                                  help_text="Bytes, at most 10 MB.")

    class OutputSerializer(serializers.Serializer):
        upload_id = serializers.UUIDField(source="upload.id")
        url = serializers.URLField(help_text="POST a multipart form here: `fields`, then `file`.")
        fields = serializers.DictField(child=serializers.CharField())
        expires_at = serializers.DateTimeField(source="upload.expires_at")

    @extend_schema(operation_id="upload_create", request=InputSerializer,
                   responses={201: OutputSerializer, **error_responses(
                       401, 413, 415, _400="Unsupported content type or size out of range.",
                       _409="MAX_SELFIES_PER_USER selfies (and open uploads) are kept.",
                       _429="Too many uploads in a short time (see Retry-After).")})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        ticket = upload_create(user=request.user, **data.validated_data)
        return Response(self.OutputSerializer(ticket).data, status=status.HTTP_201_CREATED)
