"""The REST API under /api/v1/: one viewset for every record type, each declaring what
differs (model, serializers, filters, search), like the pages' `Kind`.

Views fetch (querysets are `visible_to` the token's user, so another team's record is a
404), validate the JSON shape, call one function (`writes.save`, `records.delete_record`,
`versions.versions_page`, `writes.test`) and respond. Errors are turned into JSON by
`exceptions.handler`.
"""

from typing import Any

from django.conf import settings
from django.core.paginator import Page
from django.db.models import QuerySet
from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import filters as drf_filters
from rest_framework import mixins, permissions, viewsets
from rest_framework.decorators import (
    action,
    api_view,
    authentication_classes,
    permission_classes,
)
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer

from connections import records, versions
from connections.api import filters, schema, writes
from connections.api.listing import RowsSerializer
from connections.api.pagination import Pagination, page_number
from connections.api.permissions import (
    READ,
    TEST,
    WRITE_ADD,
    WRITE_CHANGE,
    WRITE_DELETE,
    Access,
    ScopeAndModelPermission,
    access_for,
)
from connections.api.serializers import (
    AuthorizeUrlSerializer,
    BusinessServiceSerializer,
    ConnectionTestSerializer,
    DisconnectSerializer,
    EmailConnectionSerializer,
    EmailTemplateSerializer,
    OAuthClientSerializer,
    OAuthClientUpdateSerializer,
    ReportSerializer,
    VersionPageSerializer,
)
from connections.models import BusinessService, EmailConnection, EmailTemplate, OAuthClient, Record
from connections.oauth import flow
from connections.views import KINDS

AUTHORIZE = "write", "authorize"


class SearchFilter(drf_filters.SearchFilter):
    search_description = "Words to find in the name, description and the main text fields."

    def get_search_terms(self, request: Request) -> list[str]:
        if "\x00" in request.query_params.get(self.search_param, ""):
            raise ValidationError({self.search_param: ["Null characters are not allowed."]})
        return super().get_search_terms(request)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["pattern"] = schema.NO_NUL
        return parameters


class RecordViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    model: type[Record]
    update_serializer_class: type[BaseSerializer] | None = None
    related: tuple[str, ...] = ()
    permission_classes = [permissions.IsAuthenticated, ScopeAndModelPermission]
    filter_backends = [filters.FilterBackend, SearchFilter]
    pagination_class = Pagination
    # Any text reaches get_object, which answers 404 in JSON (not the router's HTML 404).
    lookup_value_regex = "[^/]+"
    # PUT would replace a record wholesale, secrets included: changes are PATCHes.
    http_method_names = ["get", "post", "patch", "delete", "head"]
    access_by_action = {
        "list": READ,
        "retrieve": READ,
        "versions": READ,
        "create": WRITE_ADD,
        "partial_update": WRITE_CHANGE,
        "destroy": WRITE_DELETE,
        "test": TEST,
    }

    def access(self, request: Request) -> Access | None:
        wanted = self.access_by_action.get(self.action)
        return access_for(self.model, wanted) if wanted else None

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            # Schema generation: no token to authenticate (its fake request's host is refused).
            return self.model.objects.none()
        queryset = self.model.objects.visible_to(self.request.user).order_by("name", "pk")
        if self.action == "list" and self.reads_values():
            return queryset  # the list's rows are read as values (listing.RowsSerializer)
        queryset = queryset.select_related("created_by", "updated_by", *self.related)
        if self.model._meta.many_to_many:
            queryset = queryset.prefetch_related(*(f.name for f in self.model._meta.many_to_many))
        return queryset

    def reads_values(self) -> bool:
        meta = getattr(self.get_serializer_class(), "Meta", None)
        return getattr(meta, "list_serializer_class", None) is RowsSerializer

    def get_object(self) -> Record:
        # Ids are 64-bit: a longer number names nothing (and would overflow the query).
        pk = self.kwargs["pk"]
        if not (pk.isascii() and pk.isdigit() and int(pk) < 2**63):
            raise NotFound(f"No {self.model._meta.verbose_name} with id {pk!r}.")
        return super().get_object()

    def get_serializer_class(self) -> type[BaseSerializer]:
        if self.action == "partial_update" and self.update_serializer_class:
            return self.update_serializer_class
        return self.serializer_class

    def perform_create(self, serializer: Any) -> None:
        serializer.instance = writes.save(self.model(), serializer.changes(), self.request.user)

    def perform_update(self, serializer: Any) -> None:
        changes = serializer.changes()
        serializer.instance = writes.save(serializer.instance, changes, self.request.user)

    def perform_destroy(self, instance: Record) -> None:
        records.delete_record(instance, self.request.user)

    @extend_schema(
        summary="Versions of the record, newest first",
        parameters=[
            OpenApiParameter(
                "page", {"type": "integer", "minimum": 1}, description="Page number (25 a page)."
            )
        ],
        responses=VersionPageSerializer,
    )
    @action(detail=True, methods=["get"])
    def versions(self, request: Request, pk: str | None = None) -> Response:
        page = versions.versions_page(self.get_object(), page_number(request))
        return Response(VersionPageSerializer(version_page(page, request)).data)


def version_page(page: Page, request: Request) -> dict[str, Any]:
    def link(number: int | None) -> str | None:
        if number is None:
            return None
        return request.build_absolute_uri(f"{request.path}?page={number}")

    return {
        "count": page.paginator.count,
        "page": page.number,
        "pages": page.paginator.num_pages,
        "next": link(page.next_page_number() if page.has_next() else None),
        "previous": link(page.previous_page_number() if page.has_previous() else None),
        "results": [
            {
                "number": v.number,
                "date": v.date,
                "user": getattr(v.user, "username", None),
                "kind": v.kind,
                "reason": v.reason,
                "changed": v.changed,
            }
            for v in page.object_list
        ],
    }


def kind_search(model: type[Record]) -> tuple[str, ...]:
    return KINDS[model._meta.model_name].search


@extend_schema_view(
    list=extend_schema(summary="List Email Connections"),
    create=extend_schema(summary="Create an Email Connection"),
    retrieve=extend_schema(summary="Get an Email Connection"),
    partial_update=extend_schema(summary="Change an Email Connection"),
    destroy=extend_schema(summary="Delete an Email Connection (409 while in use)"),
)
class EmailConnectionViewSet(RecordViewSet):
    model = EmailConnection
    serializer_class = EmailConnectionSerializer
    filterset_class = filters.EmailConnectionFilter
    search_fields = kind_search(EmailConnection)
    related = ("oauth_client",)

    access_by_action = {
        **RecordViewSet.access_by_action,
        "authorize": AUTHORIZE,
        "disconnect": AUTHORIZE,
    }

    @extend_schema(
        summary="Start an OAuth authorization: the page to hand to the person who signs in",
        description="The connection must use OAuth 2.0 with an OAuth Client that has a Client "
        "ID. Nothing changes until that person completes Authorize in a browser.",
        request=None,
        responses=AuthorizeUrlSerializer,
    )
    @action(detail=True, methods=["post"])
    def authorize(self, request: Request, pk: str | None = None) -> Response:
        connection = self.get_object()
        try:
            flow.check_can_authorize(connection)
        except flow.AuthorizeError as exc:
            raise ValidationError({"non_field_errors": [str(exc)]}) from None
        path = reverse("connections:emailconnection-authorize", args=[connection.pk])
        url = settings.PUBLIC_BASE_URL + path if settings.PUBLIC_BASE_URL else None
        return Response({"authorize_url": url or request.build_absolute_uri(path)})

    @extend_schema(
        summary="Disconnect: forget the OAuth tokens (revoked at the provider when it can)",
        request=None,
        responses=DisconnectSerializer,
    )
    @action(detail=True, methods=["post"])
    def disconnect(self, request: Request, pk: str | None = None) -> Response:
        connection = self.get_object()
        warning = flow.disconnect(connection, request.user)
        message = f'Email Connection "{connection}" disconnected: tokens forgotten.'
        return Response({"message": message, "warning": warning})

    @extend_schema(
        summary="Test the connection (stored settings, optionally overridden; not saved)",
        request=ConnectionTestSerializer,
        responses=ReportSerializer,
    )
    @action(detail=True, methods=["post"])
    def test(self, request: Request, pk: str | None = None) -> Response:
        stored = self.get_object()
        body = ConnectionTestSerializer(data=request.data, context=self.get_serializer_context())
        body.is_valid(raise_exception=True)
        recipient = body.validated_data.get("recipient", "")
        report = writes.test(stored, body.changes(), request.user, recipient=recipient)
        return Response(report.to_dict())


@extend_schema_view(
    list=extend_schema(summary="List Email Templates"),
    create=extend_schema(summary="Create an Email Template"),
    retrieve=extend_schema(summary="Get an Email Template"),
    partial_update=extend_schema(summary="Change an Email Template"),
    destroy=extend_schema(summary="Delete an Email Template"),
)
class EmailTemplateViewSet(RecordViewSet):
    model = EmailTemplate
    serializer_class = EmailTemplateSerializer
    filterset_class = filters.EmailTemplateFilter
    search_fields = kind_search(EmailTemplate)
    related = ("connection",)


@extend_schema_view(
    list=extend_schema(summary="List OAuth Clients"),
    create=extend_schema(summary="Create an OAuth Client"),
    retrieve=extend_schema(summary="Get an OAuth Client"),
    partial_update=extend_schema(summary="Change an OAuth Client (not its provider)"),
    destroy=extend_schema(summary="Delete an OAuth Client (409 while in use)"),
)
class OAuthClientViewSet(RecordViewSet):
    model = OAuthClient
    serializer_class = OAuthClientSerializer
    update_serializer_class = OAuthClientUpdateSerializer
    filterset_class = filters.OAuthClientFilter
    search_fields = kind_search(OAuthClient)


@extend_schema_view(
    list=extend_schema(summary="List Business Services"),
    create=extend_schema(summary="Create a Business Service"),
    retrieve=extend_schema(summary="Get a Business Service"),
    partial_update=extend_schema(summary="Change a Business Service"),
    destroy=extend_schema(summary="Delete a Business Service"),
)
class BusinessServiceViewSet(RecordViewSet):
    model = BusinessService
    serializer_class = BusinessServiceSerializer
    search_fields = kind_search(BusinessService)


@extend_schema(exclude=True)
@api_view(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"])
@authentication_classes([])
@permission_classes([])
def unknown_path(request: Request, path: str = "") -> Response:
    """Under /api/ and /cam/, even a path that names nothing gets a JSON answer."""
    raise NotFound(f"No API endpoint at {request.path}.")
