"""GET /api/v1/export/ and POST /api/v1/import/: thin over connections.transfer."""

from typing import Any

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from oauth2_provider.contrib.rest_framework import TokenHasScope
from rest_framework import parsers, permissions, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from connections import transfer
from connections.api.exceptions import ApiError

TRUE, FALSE = {"true", "1", "yes", "on"}, {"false", "0", "no", "off", ""}
DOCUMENT = {
    "type": "object",
    "properties": {
        "format": {"type": "string", "const": transfer.FORMAT},
        "version": {"type": "integer", "minimum": 1, "maximum": transfer.VERSION},
        "exported_at": {"type": "string"},
        "records": {"type": "array", "items": {"type": "object"}},
    },
    "required": ["format", "version", "records"],
}
PLAN = {
    "type": "object",
    "properties": {
        "source": {"type": "string"},
        "applied": {"type": "boolean"},
        "counts": {"type": "object", "additionalProperties": {"type": "integer"}},
        "records": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "type": {"type": "string"},
                    "name": {"type": "string"},
                    "action": {
                        "type": "string",
                        "enum": ["Create", "Update", "Unchanged", "Conflict"],
                    },
                    "changed": {"type": "array", "items": {"type": "string"}},
                    "notes": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}


class Scope(TokenHasScope):
    def has_permission(self, request: Request, view: Any) -> bool:
        self.message = f'This token lacks the "{view.scope}" scope.'
        return super().has_permission(request, view)

    def get_scopes(self, request: Request, view: Any) -> list[str]:
        return [view.scope]


class DocumentParser(parsers.BaseParser):
    """The export document as the body, read raw (up to IMPORT_MAX_BYTES) for transfer.read."""

    media_type = "application/json"

    def parse(
        self, stream: Any, media_type: str | None = None, parser_context: dict | None = None
    ) -> bytes:
        limit = transfer.max_bytes()
        body = stream.read(limit + 1) if stream is not None else b""
        if len(body) > limit:
            raise too_large()
        return body


def too_large() -> ApiError:
    limit = transfer.max_bytes()
    return ApiError(
        status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        f"The file is larger than the limit of {limit // 1024} KiB (IMPORT_MAX_BYTES).",
    )


def flag(request: Request, name: str) -> bool:
    """A true/false query parameter (or multipart field)."""
    form = request.data if hasattr(request.data, "get") else {}
    value = str(request.query_params.get(name, form.get(name, ""))).strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise ValidationError({name: ["true or false."]})


def refused(exc: transfer.TransferError) -> ApiError:
    return ApiError(
        status.HTTP_400_BAD_REQUEST,
        "Nothing was imported: " + " ".join(exc.problems),
        {"file": exc.problems},
    )


class ExportView(APIView):
    permission_classes = [permissions.IsAuthenticated, Scope]
    scope = "read"

    @extend_schema(
        summary="Export records as a JSON document without secrets",
        description="All records you may see, or those of `model` and `name` (repeatable). "
        "The records they refer to come with them unless `only_selected=true`.",
        parameters=[
            OpenApiParameter(
                "model",
                {"type": "array", "items": {"type": "string", "enum": list(transfer.TYPES)}},
                description="Record types to export (default: all).",
                explode=True,
            ),
            OpenApiParameter(
                "name",
                {"type": "array", "items": {"type": "string", "pattern": r"^[^\x00]*$"}},
                description="Names of the records to export (default: all).",
                explode=True,
            ),
            OpenApiParameter(
                "only_selected",
                {"type": "boolean"},
                description="Leave out the records the selection refers to.",
            ),
        ],
        responses={200: OpenApiResponse(DOCUMENT, description="The export document.")},
    )
    def get(self, request: Request) -> Response:
        only_selected = flag(request, "only_selected")
        try:
            selected = transfer.select(
                request.user,
                request.query_params.getlist("model"),
                request.query_params.getlist("name"),
            )
        except transfer.TransferError as exc:
            # The types are an enum in the schema: what is left is a name that names nothing.
            raise ApiError(status.HTTP_404_NOT_FOUND, " ".join(exc.problems)) from None
        return Response(transfer.export(selected, request.user, with_needed=not only_selected))


class ImportView(APIView):
    permission_classes = [permissions.IsAuthenticated, Scope]
    parser_classes = [DocumentParser, parsers.MultiPartParser]
    scope = "write"

    @extend_schema(
        summary="Import an export document (all or nothing; dry_run=true previews)",
        description="The body is the document (application/json), or a multipart upload "
        "with `file` (and `dry_run`). Each record is created, updated or unchanged through "
        "the same save path as the pages; with a conflict nothing is imported (409).",
        parameters=[
            OpenApiParameter("dry_run", {"type": "boolean"}, description="Preview: change nothing.")
        ],
        request={
            "application/json": DOCUMENT,
            "multipart/form-data": {
                "type": "object",
                "properties": {
                    "file": {"type": "string", "format": "binary"},
                    "dry_run": {"type": "boolean"},
                },
                "required": ["file"],
            },
        },
        responses={200: OpenApiResponse(PLAN, description="What happened to each record.")},
    )
    def post(self, request: Request) -> Response:
        dry_run = flag(request, "dry_run")
        if isinstance(request.data, bytes):
            data, source = request.data, "an API request"
        else:
            upload = request.data.get("file")
            if upload is None or isinstance(upload, str):
                raise ValidationError({"file": ["Upload the export file as `file`."]})
            if upload.size > transfer.max_bytes():
                raise too_large()
            data, source = upload.read(), upload.name
        try:
            plan = transfer.run(data, request.user, source, dry_run=dry_run)
        except transfer.TransferError as exc:
            raise refused(exc) from None
        if plan.conflicts and not dry_run:
            errors = {f'{o.type_label} "{o.name}"': o.notes for o in plan.conflicts}
            message = "Nothing was imported: resolve the conflicts first."
            body = {"message": message, "errors": errors, **plan.to_dict()}
            return Response(body, status=status.HTTP_409_CONFLICT)
        return Response(plan.to_dict())
