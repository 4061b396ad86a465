"""OpenAPI pieces shared by every API: the error body serializer."""

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
