"""Selfies: upload (multipart, or claim a direct upload), list, delete."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.response import Response

from common.schema import error_responses
from jobs.apis.base import CURSOR_PARAMETERS, UserApi, page_serializer, paginate, uuid_path
from jobs.selectors import selfie_list_for_user, selfie_thumbnail_url
from jobs.services.images import MAX_BYTES
from jobs.services.selfies import (
    selfie_create_from_upload,
    selfie_create_from_upload_file,
    selfie_delete,
)


class SelfieOutputSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    thumbnail_url = serializers.SerializerMethodField(help_text="Signed, expires in 15 minutes.")
    created_at = serializers.DateTimeField()

    def get_thumbnail_url(self, selfie) -> str | None:
        return selfie_thumbnail_url(selfie)


class SelfieCreateApi(UserApi):
    parser_classes = [MultiPartParser, JSONParser]
    max_body_bytes = MAX_BYTES + 256 * 1024  # the image plus multipart framing

    class MultipartInputSerializer(serializers.Serializer):
        image = serializers.FileField(help_text="JPEG, PNG or WebP; at most 10 MB and 40 MP; "
                                                "the shortest side at least 256 px.")

    class JsonInputSerializer(serializers.Serializer):
        upload_id = serializers.UUIDField(help_text="From POST /api/v1/uploads/, once uploaded.")

    class InputSerializer(serializers.Serializer):
        image = serializers.FileField(required=False)
        upload_id = serializers.UUIDField(required=False)

        def validate(self, attrs):
            # A multipart body may repeat `image`; DRF would silently keep only the last one.
            getlist = getattr(self.initial_data, "getlist", None)
            if getlist and len(getlist("image")) > 1:
                raise serializers.ValidationError({"image": ["Send one image per request."]})
            if ("image" in attrs) == ("upload_id" in attrs):
                raise serializers.ValidationError(
                    {"image": ["Send an image file (multipart) or an upload_id (JSON)."]})
            return attrs

    @extend_schema(
        operation_id="selfie_create",
        request={"multipart/form-data": MultipartInputSerializer,
                 "application/json": JsonInputSerializer},
        responses={201: SelfieOutputSerializer, **error_responses(
            401, 415, _400="Not a valid JPEG/PNG/WebP, too small, over 40 MP, damaged, "
                           "or the upload is unknown or not uploaded yet.",
            _409="The upload was already used, or MAX_SELFIES_PER_USER selfies are kept.",
            _413="Larger than 10 MB.", _429="Too many uploads in a short time (Retry-After).",
            _503="No memory to decode the image within 30 s (Retry-After).")})
    def post(self, request):
        data = self.InputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        if "image" in data.validated_data:
            selfie = selfie_create_from_upload_file(user=request.user,
                                                    file=data.validated_data["image"])
        else:
            selfie = selfie_create_from_upload(user=request.user,
                                               upload_id=data.validated_data["upload_id"])
        return Response(SelfieOutputSerializer(selfie).data, status=status.HTTP_201_CREATED)


class SelfieListApi(UserApi):
    @extend_schema(operation_id="selfie_list", parameters=CURSOR_PARAMETERS,
                   responses={200: page_serializer("SelfiePage", SelfieOutputSerializer),
                              **error_responses(401, _400="Invalid page_size.",
                                                _404="Invalid cursor.")})
    def get(self, request):
        paginator, page = paginate(self, selfie_list_for_user(user=request.user))
        return paginator.get_paginated_response(SelfieOutputSerializer(page, many=True).data)


class SelfieDeleteApi(UserApi):
    @extend_schema(operation_id="selfie_delete", request=None, parameters=[uuid_path("selfie_id")],
                   responses={204: None, **error_responses(
                       401, 404, _409="A video in progress uses this selfie.")})
    def delete(self, request, selfie_id):
        selfie_delete(user=request.user, selfie_id=selfie_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class SelfieCollectionApi(SelfieCreateApi, SelfieListApi):
    """/selfies/: POST creates, GET lists (two operations sharing one URL)."""
