"""The JSON shapes of the REST API under /api/v1/.

Serializers here only check shape and JSON types; every rule about a record lives in the
model's clean() and is applied by `writes.save`, so pages and API share it. Secrets are
write-only: `password` and `client_secret` are accepted and never returned
(`password_set` / `client_secret_set` say whether one is stored).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from connections.api.fields import (
    NameReferenceField,
    ReferenceField,
    StrictBooleanField,
    StrictCharField,
    StrictChoiceField,
    StrictEmailField,
    StrictIntegerField,
    StrictURLField,
)
from connections.api.listing import RowsSerializer
from connections.models import (
    TENANT_ID_FORMS,
    BusinessService,
    EmailConnection,
    EmailTemplate,
    OAuthClient,
)

# The http(s) URLs an endpoint may be: a subset of what Django's URLValidator accepts, so
# that the schema's pattern and the API agree exactly.
OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
HOST = (
    r"(([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}|localhost"
    rf"|{OCTET}(\.{OCTET}){{3}})"
)
ENDPOINT = rf"^(https?://{HOST}(:[0-9]{{1,5}})?(/[A-Za-z0-9._~%!$&'()*+,;=:@/-]*)?)?$"


def member_services(queryset: QuerySet, user: Any) -> QuerySet:
    """Business Services a user may assign: all for superusers, else their own."""
    return queryset if user.is_superuser else queryset.of_member(user)


def visible(queryset: QuerySet, user: Any) -> QuerySet:
    return queryset.visible_to(user)


@dataclass
class Changes:
    """What a write asks for, split the way `records.save_record` takes it."""

    values: dict[str, Any]
    m2m: dict[str, list] | None = None
    secrets: dict[str, str] = field(default_factory=dict)
    version: int | None = None


class KnownKeysOnly:
    """Refuse keys the serializer does not write, naming them (a typo is not ignored)."""

    read_only_reasons: dict[str, str] = {}

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        if isinstance(data, Mapping):
            errors = {key: [self.refusal(key)] for key in data if not self.writable(key)}
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)

    def writable(self, key: str) -> bool:
        return key in self.fields and not self.fields[key].read_only

    def refusal(self, key: str) -> str:
        if key not in self.fields:
            return "Unknown field."
        return self.read_only_reasons.get(key, "Read-only field.")


class RecordSerializer(KnownKeysOnly, serializers.ModelSerializer):
    """Shared by the four record types: metadata, strict JSON types, no unknown keys."""

    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.CharField: StrictCharField,
        models.TextField: StrictCharField,
        models.EmailField: StrictEmailField,
        models.URLField: StrictURLField,
        models.IntegerField: StrictIntegerField,
        models.PositiveIntegerField: StrictIntegerField,
        models.BooleanField: StrictBooleanField,
    }
    serializer_choice_field = StrictChoiceField

    version = StrictIntegerField(
        min_value=1,
        required=False,
        help_text="Read: the record's version. PATCH: the version you last read; if the "
        "record has changed since, the update is refused with 409 and nothing is saved.",
    )
    created_by = serializers.CharField(
        source="created_by.username", read_only=True, allow_null=True
    )
    updated_by = serializers.CharField(
        source="updated_by.username", read_only=True, allow_null=True
    )

    metadata = ("id", "uuid", "version", "created_by", "created_at", "updated_by", "updated_at")
    secret_fields: tuple[str, ...] = ()

    def changes(self) -> Changes:
        data = dict(self.validated_data)
        version = data.pop("version", None)
        secrets = {name: data.pop(name) for name in self.secret_fields if name in data}
        m2m = {
            f.name: data.pop(f.name) for f in self.Meta.model._meta.many_to_many if f.name in data
        }
        return Changes(values=data, m2m=m2m or None, secrets=secrets, version=version)


def secret_input(label: str) -> StrictCharField:
    return StrictCharField(
        write_only=True,
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=1000,
        help_text=f"{label}: write-only, stored encrypted, never returned. "
        "Blank or omitted keeps the stored one.",
    )


def services_field() -> ReferenceField:
    return ReferenceField(
        many=True,
        required=False,
        queryset=BusinessService.objects.all(),
        scope=member_services,
        help_text="Ids of the Business Services the record is a member of "
        "(non-superusers: only services they are a member of).",
    )


# What the schema promises for a list of addresses: plain ASCII addresses, ", "-separated,
# a subset of what the models accept (they split on , or ; and validate each address).
ADDRESS = (
    r"[A-Za-z0-9]{1,20}([._+-][A-Za-z0-9]{1,20}){0,3}@([A-Za-z0-9]{1,20}\.){1,3}[A-Za-z]{2,10}"
)


@extend_schema_field(
    {"type": "string", "maxLength": 1000, "pattern": rf"^({ADDRESS}(, {ADDRESS}){{0,9}})?$"}
)
class AddressListField(StrictCharField):
    """Comma-separated email addresses; the model checks each one (400 naming the field)."""


def address_list(help_text: str) -> AddressListField:
    return AddressListField(required=False, allow_blank=True, max_length=1000, help_text=help_text)


class EmailConnectionSerializer(RecordSerializer):
    """An Email Connection: Outgoing (SMTP) or Incoming (IMAP)."""

    password = secret_input("Password")
    password_set = serializers.SerializerMethodField()
    system_connection = StrictBooleanField(
        required=False,
        help_text="Outgoing only: sends the platform's own notifications. At most one; "
        "setting a second one is refused with 409 naming the current one.",
    )
    oauth_client = ReferenceField(
        required=False,
        allow_null=True,
        queryset=OAuthClient.objects.all(),
        scope=visible,
        help_text="OAuth 2.0 only: id of the OAuth Client used to authorize.",
    )
    business_services = services_field()
    notify_addresses = address_list(
        "Also Notify: addresses told when this connection fails or recovers, besides the "
        "Notification Settings' recipients."
    )
    status = serializers.ChoiceField(
        choices=EmailConnection.Status.choices,
        read_only=True,
        help_text="reauthorize (Reauthorization needed) when the provider refused to renew "
        "the OAuth token; else the last Test's result.",
    )
    oauth_missing_scopes = serializers.SerializerMethodField(
        help_text="Scopes the OAuth Client asks for that the provider did not grant."
    )

    secret_fields = ("password",)

    class Meta:
        model = EmailConnection
        fields = (
            *RecordSerializer.metadata,
            "name",
            "description",
            "business_services",
            "connection_type",
            "smtp_server",
            "smtp_port",
            "imap_server",
            "imap_port",
            "enable_ssl",
            "enable_starttls",
            "email_address",
            "authentication",
            "user_name",
            "password",
            "password_set",
            "oauth_client",
            "system_connection",
            "trash_folder",
            "health_check",
            "notify_addresses",
            "status",
            "oauth_authorized",
            "oauth_account",
            "oauth_scopes",
            "oauth_expires_at",
            "oauth_refreshed_at",
            "oauth_last_error",
            "oauth_authorized_at",
            "oauth_needs_reauth",
            "oauth_missing_scopes",
            "last_test_at",
            "last_test_ok",
            "last_test_summary",
        )
        read_only_fields = RecordSerializer.metadata[:2] + RecordSerializer.metadata[3:]
        # Lists read their rows as values; missing_scopes() also reads the client's scopes.
        list_serializer_class = RowsSerializer
        row_related = ("oauth_client__scopes",)

    def get_password_set(self, record: EmailConnection) -> bool:
        return record.has_secret("password")

    def get_oauth_missing_scopes(self, record: EmailConnection) -> list[str]:
        return record.missing_scopes()


class EmailTemplateSerializer(RecordSerializer):
    """An Email Template, sent through an Outgoing connection."""

    connection = ReferenceField(
        queryset=EmailConnection.objects.all(),
        scope=visible,
        help_text="Id of the Outgoing Email Connection the template is sent through.",
    )
    business_services = services_field()

    class Meta:
        model = EmailTemplate
        fields = (
            *RecordSerializer.metadata,
            "name",
            "description",
            "business_services",
            "connection",
            "reply_to",
            "to",
            "cc",
            "bcc",
            "subject",
            "body",
        )
        read_only_fields = RecordSerializer.metadata[:2] + RecordSerializer.metadata[3:]


def endpoint_input(label: str) -> StrictURLField:
    return StrictURLField(
        required=False,
        allow_blank=True,
        max_length=500,
        validators=[RegexValidator(ENDPOINT)],
        help_text=f"{label}: an http(s) URL. Derived for Microsoft and Google; "
        "required for a Custom provider.",
    )


@extend_schema_field({"type": "string", "maxLength": 100, "pattern": rf"^(|{TENANT_ID_FORMS})$"})
class TenantIdField(serializers.CharField):
    """The model checks it (full_clean); the schema states the same rule as one pattern,
    where drf-spectacular would render blank-or-pattern as a oneOf that "" matches twice."""


class OAuthClientSerializer(RecordSerializer):
    """An OAuth Client: this app's registration at Microsoft, Google or another provider."""

    client_secret = secret_input("Client Secret")
    tenant_id = TenantIdField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="Microsoft only: common, organizations, consumers, a tenant id or a domain.",
    )
    authorization_endpoint = endpoint_input("Authorization endpoint")
    token_endpoint = endpoint_input("Token endpoint")
    userinfo_endpoint = endpoint_input("Userinfo endpoint (optional)")
    revocation_endpoint = endpoint_input("Revocation endpoint (optional)")
    client_secret_set = serializers.SerializerMethodField()
    business_services = services_field()

    secret_fields = ("client_secret",)

    class Meta:
        model = OAuthClient
        fields = (
            *RecordSerializer.metadata,
            "name",
            "description",
            "business_services",
            "provider",
            "tenant_id",
            "client_id",
            "client_secret",
            "client_secret_set",
            "scopes",
            "authorization_endpoint",
            "token_endpoint",
            "userinfo_endpoint",
            "revocation_endpoint",
        )
        read_only_fields = RecordSerializer.metadata[:2] + RecordSerializer.metadata[3:]

    def get_client_secret_set(self, record: OAuthClient) -> bool:
        return record.has_secret("client_secret")


class OAuthClientUpdateSerializer(OAuthClientSerializer):
    """An OAuth Client's changes: everything but its provider."""

    read_only_reasons = {"provider": "Provider cannot be changed after the record is created."}

    class Meta(OAuthClientSerializer.Meta):
        read_only_fields = (*OAuthClientSerializer.Meta.read_only_fields, "provider")


class BusinessServiceSerializer(RecordSerializer):
    """A Business Service: a group of records, and of the users who may see them."""

    users = NameReferenceField(
        many=True,
        required=False,
        slug_field="username",
        queryset=get_user_model().objects.all(),
        help_text="User names of the members.",
    )
    groups = NameReferenceField(
        many=True,
        required=False,
        slug_field="name",
        queryset=Group.objects.all(),
        help_text="Names of the member groups.",
    )

    class Meta:
        model = BusinessService
        fields = (*RecordSerializer.metadata, "name", "description", "users", "groups")
        read_only_fields = RecordSerializer.metadata[:2] + RecordSerializer.metadata[3:]


class ConnectionTestSerializer(RecordSerializer):
    """Test a stored connection, optionally with some settings overridden (not saved)."""

    recipient = StrictEmailField(
        required=False,
        allow_blank=True,
        help_text="Outgoing only: send a real test mail to this address. "
        "Omitted: a dry run that stops after DATA is accepted.",
    )
    password = secret_input("Password to test with")

    secret_fields = ("password",)

    class Meta:
        model = EmailConnection
        fields = (
            "recipient",
            "password",
            "smtp_server",
            "smtp_port",
            "imap_server",
            "imap_port",
            "enable_ssl",
            "enable_starttls",
            "email_address",
            "authentication",
            "user_name",
            "trash_folder",
        )
        extra_kwargs = {"email_address": {"required": False}}

    def changes(self) -> Changes:
        changes = super().changes()
        changes.values.pop("recipient", None)
        return changes


class VersionSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    date = serializers.DateTimeField()
    user = serializers.CharField(allow_null=True, help_text="Who made this version.")
    kind = serializers.CharField(help_text="Created, Changed or Deleted.")
    reason = serializers.CharField(allow_blank=True)
    changed = serializers.ListField(
        child=serializers.CharField(),
        help_text="Labels of the fields this version changed; secrets only as changed.",
    )


class VersionPageSerializer(serializers.Serializer):
    count = serializers.IntegerField()
    page = serializers.IntegerField()
    pages = serializers.IntegerField()
    next = serializers.CharField(allow_null=True)
    previous = serializers.CharField(allow_null=True)
    results = VersionSerializer(many=True)


class StageSerializer(serializers.Serializer):
    name = serializers.CharField(help_text="dns, connect, tls, greeting, ehlo, auth, mail, ...")
    status = serializers.ChoiceField(choices=["ok", "failed", "skipped"])
    duration_ms = serializers.FloatField()
    reply = serializers.CharField(allow_blank=True, help_text="The server's reply, secrets masked.")
    detail = serializers.DictField(help_text="Stage facts, e.g. TLS version and certificate.")
    hint = serializers.CharField(allow_blank=True, help_text="What to check when it failed.")


class ReportSerializer(serializers.Serializer):
    protocol = serializers.ChoiceField(choices=["smtp", "imap"])
    host = serializers.CharField()
    port = serializers.IntegerField()
    ok = serializers.BooleanField(help_text="Every stage passed.")
    stages = StageSerializer(many=True)
    sent = serializers.BooleanField(help_text="A real test mail was sent.")
    duration_ms = serializers.FloatField()


class AuthorizeUrlSerializer(serializers.Serializer):
    authorize_url = serializers.URLField(
        help_text="The page where a person signs in as the connection's User Name and "
        "authorizes it (log in to this console, click Authorize); hand it to that person."
    )


class DisconnectSerializer(serializers.Serializer):
    message = serializers.CharField()
    warning = serializers.CharField(
        allow_blank=True,
        help_text="Set when the provider's revocation endpoint did not revoke the tokens "
        "(they are forgotten here anyway).",
    )


class ErrorSerializer(serializers.Serializer):
    message = serializers.CharField(help_text="What went wrong, naming the fields.")
    errors = serializers.DictField(
        child=serializers.JSONField(),
        help_text="Field name -> list of problems (DRF's keys; non_field_errors for the "
        "whole body).",
    )
