"""OpenAPI pieces shared by every API: the schema class and the error body serializer."""

from drf_spectacular import openapi
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "message": serializers.CharField(help_text="What went wrong and how to fix it."),
        "extra": serializers.DictField(help_text="Details, e.g. field name → list of problems."),
    },
)


def error_responses(*codes: int, **described: str) -> dict[int, OpenApiResponse]:
    """{code: OpenApiResponse(ErrorSerializer)} for `extend_schema(responses=...)`."""
    responses = {code: OpenApiResponse(ErrorSerializer) for code in codes}
    for code, description in described.items():
        responses[int(code.lstrip("_"))] = OpenApiResponse(ErrorSerializer,
                                                            description=description)
    return responses


class AutoSchema(openapi.AutoSchema):
    """Names nested serializers after their view (SignupApi.OutputSerializer → SignupApiOutput).

    Every view nests an InputSerializer/OutputSerializer, so bare class names would collide.
    """

    def get_serializer_name(self, serializer, direction):
        qualname = type(serializer).__qualname__
        if "." in qualname and "<locals>" not in qualname:
            return qualname.replace(".", "")
        return super().get_serializer_name(serializer, direction)

    def _get_request_body(self, direction="request"):
        """Also documents a DELETE's body when the view declares one (DELETE /me/ takes the
        password); drf-spectacular documents bodies of POST, PUT and PATCH only. A DELETE
        without a body says `extend_schema(request=None)`."""
        if self.method != "DELETE" or self.get_request_serializer() is None:
            return super()._get_request_body(direction)
        self.method = "POST"
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = "DELETE"
