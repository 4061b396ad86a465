"""Gives every API error one JSON shape: {"message": str, "extra": {...}}."""

from __future__ import annotations

from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import Serializer, as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from common.exceptions import ApplicationError

_DEFAULT_MESSAGES = {
    400: "The request is invalid.",
    401: "Authentication credentials were not provided or are invalid.",
    403: "You do not have permission to do this.",
    404: "Not found.",
    405: "This method is not allowed here.",
    406: "Cannot produce a response in the requested format.",
    409: "This conflicts with the current state.",
    413: "The request body is too large.",
    415: "Unsupported media type.",
    422: "The request cannot be processed.",
    429: "Too many requests. Try again later.",
}


# One bound instance per serializer class, shared by every request: DRF deep-copies a
# serializer's declared fields each time one is built (about a third of a millisecond for a job,
# per request), while reading with to_representation / run_validation keeps no state on it.
_SHARED: dict[type[Serializer], Serializer] = {}


def _shared(serializer_class: type[Serializer]) -> Serializer:
    serializer = _SHARED.get(serializer_class)
    if serializer is None:
        serializer = _SHARED[serializer_class] = serializer_class()
        serializer.fields  # bind the fields once, before other threads share it  # noqa: B018
    return serializer


def represent(serializer_class: type[Serializer], instance) -> dict:
    """`serializer_class(instance).data` without building the serializer per call."""
    return _shared(serializer_class).to_representation(instance)


def validated(serializer_class: type[Serializer], data) -> dict:
    """`serializer_class(data=data)` validated (raise_exception=True) and its validated_data,
    without building the serializer per call. Invalid data takes DRF's own path, so the 400
    says exactly what `is_valid` says."""
    try:
        return _shared(serializer_class).run_validation(data)
    except exceptions.ValidationError:
        serializer = serializer_class(data=data)
        serializer.is_valid(raise_exception=True)
        raise  # not reached: the same data failed above


def _first_message(detail) -> str | None:
    if isinstance(detail, dict):
        for key, value in detail.items():
            text = _first_message(value)
            if text:
                return text if key == "non_field_errors" else f"{key}: {text}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, str):
        return detail
    return None


def exception_handler(exc, context):
    """DRF exception handler (HackSoft style): every error becomes {"message", "extra"}."""
    if isinstance(exc, ApplicationError):
        response = Response({"message": exc.message, "extra": exc.extra}, status=exc.status_code)
        for name, value in exc.headers.items():
            response[name] = value
        return response
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif isinstance(exc, RequestDataTooBig):
        exc = exceptions.APIException(_DEFAULT_MESSAGES[413])
        exc.status_code = 413
    elif isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        exc = exceptions.ParseError(str(exc))
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # an unexpected error: Django logs it and answers 500
    detail = response.data
    if isinstance(exc, exceptions.ValidationError):
        extra = detail if isinstance(detail, dict) else {"non_field_errors": detail}
        message = _first_message(detail) or _DEFAULT_MESSAGES[400]
    else:
        extra = {}
        message = detail.get("detail") if isinstance(detail, dict) else str(detail)
        message = str(message or _DEFAULT_MESSAGES.get(response.status_code, "Request failed."))
    response.data = {"message": message, "extra": extra}
    return response


# What an API client is told of an unexpected error (handler500, the submission intake).
SERVER_ERROR_MESSAGE = "Something went wrong on our side. Please try again."


def json_error(status_code: int, message: str | None = None, **extra) -> JsonResponse:
    """The same error shape for plain Django views (404/500 under /api/, webhooks)."""
    return JsonResponse(
        {"message": message or _DEFAULT_MESSAGES.get(status_code, "Request failed."),
         "extra": extra},
        status=status_code,
    )

