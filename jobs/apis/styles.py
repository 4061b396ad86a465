"""The styles a user can pick, with their previews."""

from __future__ import annotations

from django.templatetags.static import static
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from common.schema import error_responses
from jobs.apis.base import UserApi
from jobs.styles import STYLES


class StyleListApi(UserApi):
    class OutputSerializer(serializers.Serializer):
        slug = serializers.SlugField(help_text="What POST /api/v1/jobs/ takes as `style`.")
        title = serializers.CharField()
        description = serializers.CharField(help_text="One line.")
        preview_url = serializers.SerializerMethodField(
            help_text="Absolute URL of a short, muted, looping MP4 of the style (the sample "
                      "selfie rendered in it); play it muted and looped.")
        poster_url = serializers.SerializerMethodField(
            help_text="Absolute URL of a JPEG frame of the preview, to show before it plays.")

        def get_preview_url(self, style) -> str:
            return self.context["request"].build_absolute_uri(static(style.preview))

        def get_poster_url(self, style) -> str:
            return self.context["request"].build_absolute_uri(static(style.poster))

    @extend_schema(operation_id="style_list",
                   responses={200: OutputSerializer(many=True), **error_responses(401)})
    def get(self, request):
        return Response(self.OutputSerializer(STYLES.values(), many=True,
                                              context={"request": request}).data)
