"""What every jobs API view shares: no throttles, a request-body cap, cursor pages, UUID paths."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.pagination import CursorPagination
from rest_framework.views import APIView

from common.exceptions import ApplicationError


class UserApi(APIView):
    """An authenticated user's API view. No DRF throttles: the services' limits answer 429
    (job_create's fair-use quota, the selfie upload rate; common/ratelimit.py)."""

    throttle_classes: list = []
    max_body_bytes = 64 * 1024

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # Refuse by the declared length before any byte is parsed or spooled to disk.
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > self.max_body_bytes:
            raise ApplicationError(
                f"The request body is too large (at most {self.max_body_bytes} bytes).",
                status_code=413, extra={"max_bytes": self.max_body_bytes})


class NewestFirstPagination(CursorPagination):
    ordering = ("-created_at", "-id")
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100

    def get_page_size(self, request):
        """The documented 1–100, or 400 (DRF would quietly fall back to the default)."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        field = serializers.IntegerField(min_value=1, max_value=self.max_page_size)
        try:
            return field.run_validation(raw)
        except serializers.ValidationError as error:
            raise serializers.ValidationError({self.page_size_query_param: error.detail}) \
                from None


def paginate(view: APIView, queryset) -> tuple[NewestFirstPagination, list]:
    paginator = NewestFirstPagination()
    return paginator, list(paginator.paginate_queryset(queryset, view.request, view=view))


def page_serializer(name: str, item: type) -> type[serializers.Serializer]:
    """The OpenAPI shape of one cursor page of `item`s."""
    return type(name, (serializers.Serializer,), {
        "next": serializers.URLField(allow_null=True, help_text="The next page, or null."),
        "previous": serializers.URLField(allow_null=True),
        "results": item(many=True),
    })


def uuid_path(name: str) -> OpenApiParameter:
    return OpenApiParameter(name, OpenApiTypes.UUID, OpenApiParameter.PATH)


def query_data(request) -> dict[str, str]:
    """Query parameters as a plain dict, so a blank value is validated, not taken as absent."""
    return request.query_params.dict()


CURSOR_PARAMETERS = [
    OpenApiParameter("cursor", OpenApiTypes.STR, OpenApiParameter.QUERY,
                     description="Opaque; follow `next` / `previous`."),
    OpenApiParameter("page_size", {"type": "integer", "minimum": 1, "maximum": 100},
                     OpenApiParameter.QUERY, description="1–100, default 20."),
]
