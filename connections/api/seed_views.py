"""The automation manager's SMTP connections API: same paths, query parameters and bodies.

    POST   /cam/api/v1/smtpconnections                    create
    GET    /cam/api/v1/smtpconnections                    list
    GET    /cam/api/v1/smtpconnections/<id>               get
    DELETE /cam/api/v1/smtpconnections/<id>               delete
    POST   /cam/composer/api/v1/smtpconnections/patchConnectionParametersById
    POST   /cam/composer/api/v1/smtpconnections/testEmail
    POST   /cam/composer/api/v1/smtpconnections/testEmailById

Every call needs a Bearer token, including those the seed documents without one.
`tenantId` and `cloudOE_spaceGuid` are accepted and ignored; `ace_orgGuid` (`all` or a
Business Service name) filters the list and, on create, the service the connection joins.
"""

from typing import Any

from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
)
from rest_framework import permissions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from connections import records
from connections.api import schema, seed
from connections.api.fields import (
    StrictCharField,
    StrictEmailField,
    StrictIntegerField,
    whole_number,
)
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
from connections.api.serializers import KnownKeysOnly, ReportSerializer
from connections.models import EmailConnection

QUERY = [
    OpenApiParameter("tenantId", str, description="Accepted for compatibility; ignored."),
    OpenApiParameter(
        "ace_orgGuid",
        str,
        description="`all` or a Business Service name. Lists only that service's "
        "connections; a create assigns the connection to it (members and superusers only). "
        "Ignored by the other calls.",
    ),
    OpenApiParameter("cloudOE_spaceGuid", str, description="Accepted for compatibility; ignored."),
]
PAGING = [
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": seed.MAX_PAGE_SIZE},
        description=f"Connections in the page (default {seed.PAGE_SIZE}).",
    ),
    OpenApiParameter(
        "offset",
        {"type": "integer", "minimum": 0, "maximum": 2**63 - 1},
        description="How many to skip (default 0).",
    ),
]
TAG = ["smtpconnections (seed-compatible)"]


@extend_schema_field(schema.parameter_list(seed.FIELDS))
class ConnectionParametersField(seed.ParametersField):
    pass


@extend_schema_field(schema.parameter_list(seed.FIELDS, new=True))
class NewConnectionParametersField(seed.ParametersField):
    """The parameters of a whole connection: hostname and a complete login are required."""


@extend_schema_field(schema.SEED_ID)
class ConnectionIdField(serializers.Field):
    default_error_messages = {"invalid": "Expected the connection's id or uuid."}

    def to_internal_value(self, data: Any) -> int | str:
        if isinstance(data, str):
            return data
        number = whole_number(data)
        if number is None:
            self.fail("invalid")
        return number


class SeedCreateSerializer(KnownKeysOnly, serializers.Serializer):
    name = StrictCharField(max_length=100)
    description = StrictCharField(required=False, allow_blank=True)
    connection_parameters = NewConnectionParametersField(
        help_text="hostname (required), port, username, password, email_address, enable_ssl, "
        "enable_starttls, authentication, system_connection, oauth_client."
    )


class SeedPatchSerializer(KnownKeysOnly, serializers.Serializer):
    id = ConnectionIdField()
    version = StrictIntegerField(
        min_value=1, required=False, help_text="Optional: 409 if the connection changed since."
    )
    connection_parameters = ConnectionParametersField(
        help_text="Only the parameters named change; a blank password keeps the stored one."
    )


class SeedTestSerializer(KnownKeysOnly, serializers.Serializer):
    to = StrictEmailField(
        required=False,
        allow_blank=True,
        help_text="Send a real test mail here; omitted: a dry run that stops after DATA.",
    )
    conn_params = NewConnectionParametersField(help_text="hostname is required.")


class SeedTestByIdSerializer(KnownKeysOnly, serializers.Serializer):
    id = ConnectionIdField()
    to = StrictEmailField(required=False, allow_blank=True)
    conn_params = ConnectionParametersField(
        required=False,
        help_text="Values that override the stored ones for this test only (not saved). "
        "Changing hostname, port or username requires the password too.",
    )


class SeedConnectionSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    uuid = serializers.UUIDField()
    name = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    version = serializers.IntegerField()
    connection_parameters = serializers.SerializerMethodField()
    business_services = serializers.SerializerMethodField(
        help_text="Names of the Business Services the connection is a member of."
    )
    status = serializers.ChoiceField(choices=EmailConnection.Status.choices)
    created_by = serializers.CharField(source="created_by.username", allow_null=True)
    created_at = serializers.DateTimeField()
    updated_by = serializers.CharField(source="updated_by.username", allow_null=True)
    updated_at = serializers.DateTimeField()

    @extend_schema_field(schema.PARAMETER_OUTPUT)
    def get_connection_parameters(self, connection: EmailConnection) -> list[dict[str, Any]]:
        return seed.parameters_of(connection)

    def get_business_services(self, connection: EmailConnection) -> list[str]:
        return sorted(service.name for service in connection.business_services.all())


class SeedView(APIView):
    permission_classes = [permissions.IsAuthenticated, ScopeAndModelPermission]
    access_by_method: dict[str, tuple[str, str]] = {}

    def access(self, request: Request) -> Access | None:
        method = "GET" if request.method == "HEAD" else request.method
        wanted = self.access_by_method.get(method)
        return access_for(EmailConnection, wanted) if wanted else None


def listed(connections: Any) -> Any:
    return (
        connections.select_related("created_by", "updated_by", "oauth_client")
        .prefetch_related("business_services")
        .order_by("name", "pk")
    )


class SmtpConnectionsView(SeedView):
    access_by_method = {"GET": READ, "POST": WRITE_ADD}

    @extend_schema(
        tags=TAG,
        operation_id="smtpconnections_list",
        summary="List SMTP (Outgoing) connections, a page at a time",
        description=f"`limit` connections (default {seed.PAGE_SIZE}, at most "
        f"{seed.MAX_PAGE_SIZE}) from `offset`, by name. The `X-Total-Count` header gives how "
        'many there are; while more follow, `Link: <...>; rel="next"` names the next page.',
        parameters=[
            *QUERY,
            *PAGING,
            OpenApiParameter("X-Total-Count", int, OpenApiParameter.HEADER, response=[200]),
            OpenApiParameter("Link", str, OpenApiParameter.HEADER, response=[200]),
        ],
        responses=SeedConnectionSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        limit, offset = seed.page_bounds(request.query_params)
        connections = seed.smtp_connections(request.user)
        service = seed.business_service(request.user, request.query_params.get("ace_orgGuid"))
        if service is not None:
            connections = connections.filter(business_services=service)
        total = connections.count()
        page = listed(connections)[offset : offset + limit]
        response = Response(SeedConnectionSerializer(page, many=True).data)
        # The body stays the seed's plain list; the paging is in the headers.
        response["X-Total-Count"] = str(total)
        if offset + limit < total:
            params = request.query_params.copy()
            params["offset"] = str(offset + limit)
            params["limit"] = str(limit)
            next_url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
            response["Link"] = f'<{next_url}>; rel="next"'
        return response

    @extend_schema(
        tags=TAG,
        operation_id="smtpconnections_create",
        summary="Create an SMTP connection",
        description="Without email_address, the sender is the username when it is an "
        "address, else username@hostname, else username@localhost (noreply@... without a "
        "username). Without authentication, a username or password means Password.",
        parameters=QUERY,
        request=SeedCreateSerializer,
        responses={201: SeedConnectionSerializer},
    )
    def post(self, request: Request) -> Response:
        body = SeedCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        service = seed.business_service(
            request.user, request.query_params.get("ace_orgGuid"), assigning=True
        )
        connection = seed.create(
            data["name"],
            data.get("description", ""),
            data["connection_parameters"],
            service,
            request.user,
        )
        return Response(SeedConnectionSerializer(connection).data, status=status.HTTP_201_CREATED)


class SmtpConnectionView(SeedView):
    access_by_method = {"GET": READ, "DELETE": WRITE_DELETE}

    @extend_schema(
        tags=TAG,
        operation_id="smtpconnections_get",
        summary="Get an SMTP connection by id (or uuid)",
        parameters=QUERY,
        responses=SeedConnectionSerializer,
    )
    def get(self, request: Request, connection_id: str) -> Response:
        connection = seed.get_smtp_connection(request.user, connection_id)
        return Response(SeedConnectionSerializer(connection).data)

    @extend_schema(
        tags=TAG,
        operation_id="smtpconnections_delete",
        summary="Delete an SMTP connection (409 while templates use it)",
        parameters=QUERY,
        responses={204: None},
    )
    def delete(self, request: Request, connection_id: str) -> Response:
        connection = seed.get_smtp_connection(request.user, connection_id)
        records.delete_record(connection, request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class PatchByIdView(SeedView):
    access_by_method = {"POST": WRITE_CHANGE}

    @extend_schema(
        tags=TAG,
        operation_id="smtpconnections_patch_parameters",
        summary="Change some parameters of an SMTP connection",
        parameters=QUERY,
        request=SeedPatchSerializer,
        responses=SeedConnectionSerializer,
    )
    def post(self, request: Request) -> Response:
        body = SeedPatchSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        connection = seed.get_smtp_connection(request.user, data["id"])
        connection = seed.patch(
            connection, data["connection_parameters"], data.get("version"), request.user
        )
        return Response(SeedConnectionSerializer(connection).data)


class TestEmailView(SeedView):
    access_by_method = {"POST": TEST}

    @extend_schema(
        tags=TAG,
        operation_id="smtpconnections_test",
        summary="Test SMTP parameters before saving them",
        parameters=QUERY,
        request=SeedTestSerializer,
        responses=ReportSerializer,
    )
    def post(self, request: Request) -> Response:
        body = SeedTestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        report = seed.test(None, data["conn_params"], data.get("to", ""), request.user)
        return Response(report.to_dict())


class TestEmailByIdView(SeedView):
    access_by_method = {"POST": TEST}

    @extend_schema(
        tags=TAG,
        operation_id="smtpconnections_test_by_id",
        summary="Test a stored SMTP connection, optionally with overridden parameters",
        parameters=QUERY,
        request=SeedTestByIdSerializer,
        responses=ReportSerializer,
    )
    def post(self, request: Request) -> Response:
        body = SeedTestByIdSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        stored = seed.get_smtp_connection(request.user, data["id"])
        report = seed.test(stored, data.get("conn_params", []), data.get("to", ""), request.user)
        return Response(report.to_dict())
