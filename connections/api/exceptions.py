"""Every API error is JSON: {"message": "...", "errors": {"field": ["problem", ...]}}.

DRF's own exceptions keep their status and field keys; the app's exceptions (validation by
the model, stale versions, names taken, records in use, tests refused) get their status
here, so views never translate errors themselves.
"""

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as ModelValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from connections import records
from connections.connection_test import PasswordRequired, RateLimited

NAME_TAKEN = "Name must be unique."
# Model rules that are conflicts with another record rather than bad input.
CONFLICT_FIELDS = {"system_connection"}


class ApiError(exceptions.APIException):
    def __init__(self, status_code: int, message: str, errors: dict | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message
        self.errors = errors or {}


class PayloadTooLarge(ApiError):
    def __init__(self, limit: int) -> None:
        super().__init__(
            status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
            f"The request body is larger than {limit // 1024} KiB.",
        )


def handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    exc = translate(exc)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ApiError):
        response.data = {"message": exc.message, "errors": exc.errors}
    elif isinstance(exc, exceptions.ValidationError):
        errors = (
            response.data if isinstance(response.data, dict) else {"non_field_errors": exc.detail}
        )
        response.data = {"message": summary(errors), "errors": errors}
        if only_unknown_references(exc.get_codes()):
            response.status_code = status.HTTP_404_NOT_FOUND
    else:
        response.data = {"message": message_of(response.data), "errors": {}}
    return response


def translate(exc: Exception) -> Exception:
    """The app's exceptions as API errors with their status codes."""
    if isinstance(exc, ModelValidationError):
        errors = {
            ("non_field_errors" if name == "__all__" else name): messages
            for name, messages in exc.message_dict.items()
        }
        conflict = NAME_TAKEN in errors.get("name", []) or CONFLICT_FIELDS & errors.keys()
        code = status.HTTP_409_CONFLICT if conflict else status.HTTP_400_BAD_REQUEST
        return ApiError(code, summary(errors), errors)
    if isinstance(exc, records.StaleRecord):
        current = exc.current
        who = current.updated_by or "someone else"
        message = (
            f'{current._meta.verbose_name} "{current}" was changed by {who} since you read it '
            f"(now version {current.version}): nothing was saved. Read it again and re-apply "
            "your change."
        )
        return ApiError(status.HTTP_409_CONFLICT, message, {"version": [message]})
    if isinstance(exc, records.NameTaken):
        return ApiError(status.HTTP_409_CONFLICT, f"name: {NAME_TAKEN}", {"name": [NAME_TAKEN]})
    if isinstance(exc, records.RecordInUse):
        message = f"Not deleted: it is used by {', '.join(exc.users)}."
        return ApiError(status.HTTP_409_CONFLICT, message, {"used_by": exc.users})
    if isinstance(exc, PasswordRequired):
        return ApiError(status.HTTP_400_BAD_REQUEST, str(exc), {"password": [str(exc)]})
    if isinstance(exc, RateLimited):
        return exceptions.Throttled(wait=exc.wait, detail=str(exc))
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    if isinstance(exc, Http404):
        return exceptions.NotFound(str(exc) or None)
    return exc


def only_unknown_references(codes: Any) -> bool:
    """True when every problem is an id that names no record the user may use."""
    leaves = list(_leaves(codes))
    return bool(leaves) and all(code == "does_not_exist" for code in leaves)


def _leaves(codes: Any) -> Any:
    if isinstance(codes, dict):
        for value in codes.values():
            yield from _leaves(value)
    elif isinstance(codes, list):
        for value in codes:
            yield from _leaves(value)
    else:
        yield codes


def summary(errors: dict[str, Any]) -> str:
    """The first problems in one line, e.g. 'port: Ensure this value is ...'."""
    parts = [f"{name}: {message_of(problem)}" for name, problem in errors.items()]
    return "; ".join(parts[:3]) + ("; ..." if len(parts) > 3 else "") or "Invalid input."


def message_of(detail: Any) -> str:
    if isinstance(detail, dict):
        if "detail" in detail:
            return message_of(detail["detail"])
        return summary(detail)
    if isinstance(detail, list):
        return " ".join(message_of(item) for item in detail if item)
    return str(detail)
