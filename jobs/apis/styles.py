"""The styles a user can pick."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from common.schema import error_responses
from jobs.apis.base import UserApi
from jobs.styles import STYLES


class StyleListApi(UserApi):
    class OutputSerializer(serializers.Serializer):
        slug = serializers.SlugField()
        title = serializers.CharField()
        description = serializers.CharField()

    @extend_schema(operation_id="style_list",
                   responses={200: OutputSerializer(many=True), **error_responses(401)})
    def get(self, request):
        return Response(self.OutputSerializer(STYLES.values(), many=True).data)
