"""The records of the console.

Every record shares one base (`Record`): name unique case-insensitively, description,
version, uuid, who/when metadata and history. Records that can be grouped also share
`Member of Business Services`. Secrets live in `*_enc` columns (see crypto.py) which the
history never copies; a `*_changed_at` column records, value-less, that a secret changed.
"""

import uuid
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.core.validators import (
    MaxValueValidator,
    MinValueValidator,
    RegexValidator,
    validate_email,
)
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.urls import reverse
from django.utils import timezone
from simple_history.models import HistoricalRecords

from connections import crypto

PORT_VALIDATORS = [MinValueValidator(1), MaxValueValidator(65535)]
# It becomes part of the Microsoft endpoint URLs: a keyword, a tenant GUID or a domain.
TENANT_ID_FORMS = (
    r"common|organizations|consumers|[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}"
    r"|([A-Za-z0-9-]+\.)+[A-Za-z]{2,}"
)
TENANT_ID = RegexValidator(
    rf"^({TENANT_ID_FORMS})$",
    "Use common, organizations, consumers, a tenant id (GUID) or a domain such as "
    "contoso.onmicrosoft.com.",
)


PASSWORD_UNBOUND = (
    "The server changed: type the password again (a stored password is only sent to the "
    "server, port and user it was stored for)."
)


class RecordHistory(HistoricalRecords):
    """History written once per saved change by `records.save_record`.

    simple-history would add a history row for each many-to-many change; we snapshot the
    many-to-many fields in the single row the save writes instead, so one row = one version.
    """

    def contribute_to_class(self, cls: type, name: str) -> None:
        super().contribute_to_class(cls, name)
        cls.history_tracker = self

    def m2m_changed(self, instance: models.Model, action: str, **kwargs: object) -> None:
        return None


class Visible(models.Expression):
    """True for a grouped record a user may see: unassigned, or in one of their services.

    Two correlated probes of the membership table's (record, service) index per row, so a
    list read in an index's order stops after its page, and a bounded count after its bound:
    the cost follows the rows read, not the table (bench/run.py measures it at 100k). The
    user's services (directly or through a group) are a small uncorrelated subquery that the
    database reads once. Written as SQL because the ORM took longer to build it than the
    database to run it.
    """

    conditional = True
    output_field = models.BooleanField()

    def __init__(self, model: type[models.Model], user_pk: int) -> None:
        super().__init__()
        self.model, self.user_pk = model, user_pk
        self.pk = models.F("pk")

    def get_source_expressions(self) -> list:
        return [self.pk]

    def set_source_expressions(self, exprs: list) -> None:
        (self.pk,) = exprs

    def as_sql(self, compiler: object, connection: object) -> tuple[str, list]:
        pk, params = compiler.compile(self.pk)
        q = connection.ops.quote_name
        field = self.model._meta.get_field("business_services")
        table = q(field.remote_field.through._meta.db_table)
        owner, service = q(field.m2m_column_name()), q(field.m2m_reverse_name())
        members = BusinessService._meta.get_field("users")
        groups = BusinessService._meta.get_field("groups")
        user_groups = get_user_model()._meta.get_field("groups")
        # Only quoted table and column names from the models go into the text; values are params.
        services = (
            f"SELECT m.{q(members.m2m_column_name())} FROM "  # noqa: S608
            f"{q(members.remote_field.through._meta.db_table)} m "
            f"WHERE m.{q(members.m2m_reverse_name())} = %s UNION "
            f"SELECT g.{q(groups.m2m_column_name())} FROM "
            f"{q(groups.remote_field.through._meta.db_table)} g "
            f"JOIN {q(user_groups.remote_field.through._meta.db_table)} ug "
            f"ON ug.{q(user_groups.m2m_reverse_name())} = g.{q(groups.m2m_reverse_name())} "
            f"WHERE ug.{q(user_groups.m2m_column_name())} = %s"
        )
        linked = f"SELECT 1 FROM {table} v WHERE v.{owner} = {pk}"  # noqa: S608
        sql = f"(EXISTS ({linked} AND v.{service} IN ({services})) OR NOT EXISTS ({linked}))"
        return sql, [*params, self.user_pk, self.user_pk, *params]


class RecordQuerySet(models.QuerySet):
    def visible_to(self, user: settings.AUTH_USER_MODEL) -> "RecordQuerySet":
        """Records a user may see: all for superusers, else unassigned or of their services."""
        if user.is_superuser:
            return self
        if self.model is BusinessService:
            return self.filter(pk__in=BusinessService.objects.of_member(user).values("pk"))
        if not hasattr(self.model, "business_services"):
            return self
        return self.filter(Visible(self.model, user.pk))


class Record(models.Model):
    uuid = models.UUIDField("UUID", default=uuid.uuid4, editable=False, unique=True)
    name = models.CharField("Name", max_length=100)
    description = models.TextField("Description", blank=True)
    version = models.PositiveIntegerField("Version", default=1, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="Created By",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField("Created", default=timezone.now, editable=False)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="Updated By",
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    updated_at = models.DateTimeField("Updated", default=timezone.now, editable=False)

    objects = RecordQuerySet.as_manager()

    # Column names of secrets -> the value-less marker the history keeps for them.
    secret_fields: dict[str, str] = {}
    # Runtime state that is neither a setting nor versioned (tokens, last test).
    state_fields: tuple[str, ...] = ()

    class Meta:
        abstract = True
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(Lower("name"), name="%(app_label)s_%(class)s_name_ci_unique")
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse(f"connections:{self._meta.model_name}-detail", args=[self.pk])

    def clean_fields(self, exclude: object = None) -> None:
        # Strip first, so that a name of spaces is refused as blank, not stored as "".
        self.name = (self.name or "").strip()
        super().clean_fields(exclude)

    def clean(self) -> None:
        super().clean()
        self.name = (self.name or "").strip()
        clash = type(self).objects.filter(name__iexact=self.name).exclude(pk=self.pk)
        if self.name and clash.exists():
            raise ValidationError({"name": "Name must be unique."})

    def validate_constraints(self, exclude: object = None) -> None:
        # The case-insensitive name constraint is checked in clean() with a field message.
        return None

    def set_secret(self, field: str, plaintext: str) -> bool:
        """Store a secret encrypted; returns whether it changed. Blank keeps the stored one."""
        if not plaintext:
            return False
        # Typed in this change (even if equal to the stored one): it may go to a new server.
        self.typed_secrets = {*getattr(self, "typed_secrets", ()), field}
        column = f"{field}_enc"
        current = getattr(self, column)
        if current and self.get_secret(field) == plaintext:
            return False
        setattr(self, column, crypto.encrypt(plaintext))
        setattr(self, f"{field}_changed_at", timezone.now())
        return True

    def clear_secret(self, field: str) -> None:
        if getattr(self, f"{field}_enc"):
            setattr(self, f"{field}_enc", "")
            setattr(self, f"{field}_changed_at", timezone.now())

    def get_secret(self, field: str) -> str:
        return crypto.decrypt(getattr(self, f"{field}_enc"))

    def has_secret(self, field: str) -> bool:
        # Lists load `<field>_enc_stored` instead of the ciphertext (RecordListView).
        stored = self.__dict__.get(f"{field}_enc_stored")
        return bool(getattr(self, f"{field}_enc")) if stored is None else stored

    def typed_secret(self, field: str) -> bool:
        return field in getattr(self, "typed_secrets", ())

    def bind_to(self, current: "Record") -> None:
        """Before an update is stored: secrets that cannot follow the change are dropped.

        `current` is the stored row. Record types whose secrets are bound to an endpoint
        override this; the default binds nothing.
        """


def history(*excluded: str, m2m: tuple[str, ...] = ("business_services",)) -> RecordHistory:
    return RecordHistory(excluded_fields=list(excluded), m2m_fields=list(m2m))


class BusinessServiceQuerySet(RecordQuerySet):
    def of_member(self, user: settings.AUTH_USER_MODEL) -> "BusinessServiceQuerySet":
        if not user.is_authenticated:
            return self.none()
        return self.filter(Q(users=user) | Q(groups__in=user.groups.all())).distinct()


class BusinessService(Record):
    users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name="Users", blank=True, related_name="business_services"
    )
    groups = models.ManyToManyField(
        Group, verbose_name="Groups", blank=True, related_name="business_services"
    )

    objects = BusinessServiceQuerySet.as_manager()
    history = history(m2m=("users", "groups"))

    class Meta(Record.Meta):
        verbose_name = "Business Service"
        permissions = [
            ("restore_businessservice", "Can restore versions of business service"),
        ]


class GroupedRecord(Record):
    business_services = models.ManyToManyField(
        BusinessService,
        verbose_name="Member of Business Services",
        blank=True,
        related_name="%(class)s_members",
    )

    class Meta(Record.Meta):
        abstract = True


class OAuthClient(GroupedRecord):
    class Provider(models.TextChoices):
        MICROSOFT = "microsoft", "Microsoft"
        GOOGLE = "google", "Google"
        CUSTOM = "custom", "Custom"

    DEFAULT_SCOPES = {
        Provider.MICROSOFT: "offline_access https://outlook.office.com/SMTP.Send "
        "https://outlook.office.com/IMAP.AccessAsUser.All",
        Provider.GOOGLE: "https://mail.google.com/",
        Provider.CUSTOM: "",
    }

    provider = models.CharField(
        "Provider", max_length=20, choices=Provider.choices, default=Provider.MICROSOFT
    )
    tenant_id = models.CharField(
        "Tenant ID",
        max_length=100,
        blank=True,
        default="common",
        validators=[TENANT_ID],
        help_text="Microsoft only: common, organizations, consumers, a tenant id or domain.",
    )
    client_id = models.CharField("Client ID", max_length=255)
    client_secret_enc = models.TextField(blank=True, editable=False)
    client_secret_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    scopes = models.TextField("Scopes", blank=True)
    authorization_endpoint = models.URLField("Authorization Endpoint", max_length=500, blank=True)
    token_endpoint = models.URLField("Token Endpoint", max_length=500, blank=True)
    userinfo_endpoint = models.URLField(
        "Userinfo Endpoint",
        max_length=500,
        blank=True,
        help_text="Optional: where the authorized account is read when the provider "
        "sends no ID token.",
    )
    revocation_endpoint = models.URLField(
        "Revocation Endpoint",
        max_length=500,
        blank=True,
        help_text="Optional: Disconnect revokes the tokens there.",
    )

    secret_fields = {"client_secret_enc": "Client Secret"}
    history = history("client_secret_enc")

    class Meta(Record.Meta):
        verbose_name = "OAuth Client"
        permissions = [
            ("restore_oauthclient", "Can restore versions of oauth client"),
        ]

    def clean(self) -> None:
        super().clean()
        if self.pk:
            stored = OAuthClient.objects.filter(pk=self.pk).values_list("provider", flat=True)
            if stored and stored[0] != self.provider:
                raise ValidationError(
                    {"provider": "Provider cannot be changed after the record is created."}
                )
        if not self.scopes.strip():
            self.scopes = self.DEFAULT_SCOPES.get(self.provider, "")
        if self.provider == self.Provider.MICROSOFT:
            self.tenant_id = (self.tenant_id or "").strip() or "common"
        else:
            self.tenant_id = ""
        derived = self.derived_endpoints()
        if derived:
            for name, url in derived.items():
                setattr(self, name, url)
        else:
            errors = {}
            if not self.authorization_endpoint:
                errors["authorization_endpoint"] = "Required for a Custom provider."
            if not self.token_endpoint:
                errors["token_endpoint"] = "Required for a Custom provider."
            if errors:
                raise ValidationError(errors)

    def applicable_fields(self) -> set[str]:
        if self.provider == self.Provider.MICROSOFT:
            return {"tenant_id"}
        if self.provider == self.Provider.CUSTOM:
            return set(self.ENDPOINTS)
        return set()

    ENDPOINTS = (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "revocation_endpoint",
    )
    # Microsoft (v2, per tenant) and Google endpoints; {tenant} is the Tenant ID. Microsoft
    # has no revocation endpoint, and its userinfo (Graph) cannot be read with a token for
    # outlook.office.com: the account comes from the ID token.
    DERIVED_ENDPOINTS = {
        Provider.MICROSOFT: {
            "authorization_endpoint": "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize",
            "token_endpoint": "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
            "userinfo_endpoint": "",
            "revocation_endpoint": "",
        },
        Provider.GOOGLE: {
            "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
            "token_endpoint": "https://oauth2.googleapis.com/token",
            "userinfo_endpoint": "https://openidconnect.googleapis.com/v1/userinfo",
            "revocation_endpoint": "https://oauth2.googleapis.com/revoke",
        },
    }

    @classmethod
    def field_rules(cls) -> dict:
        """Which fields the form shows for each Provider, and what Provider and Tenant fill
        in (derived endpoints, default scopes), read by record_form.js and oauth_client.js."""
        rules = {p: sorted(cls(provider=p).applicable_fields()) for p in cls.Provider.values}
        return {
            "controls": ["provider"],
            "rules": rules,
            "derived": {str(p): dict(e) for p, e in cls.DERIVED_ENDPOINTS.items()},
            "default_scopes": {str(p): s for p, s in cls.DEFAULT_SCOPES.items()},
            "default_tenant": "common",
        }

    def derived_endpoints(self) -> dict[str, str] | None:
        derived = self.DERIVED_ENDPOINTS.get(self.provider)
        if derived is None:
            return None
        tenant = self.tenant_id or "common"
        return {name: url.replace("{tenant}", tenant) for name, url in derived.items()}


class HealthCheck(models.TextChoices):
    """How often the worker tests a connection (minutes), "" for the default."""

    DEFAULT = "", "Default (hourly once a Test has passed)"
    OFF = "off", "Off"
    QUARTER_HOUR = "15", "Every 15 minutes"
    HOURLY = "60", "Hourly"
    DAILY = "1440", "Daily"


class EmailConnectionQuerySet(RecordQuerySet):
    def outgoing(self) -> "EmailConnectionQuerySet":
        return self.filter(connection_type=EmailConnection.Type.OUTGOING)

    def incoming(self) -> "EmailConnectionQuerySet":
        return self.filter(connection_type=EmailConnection.Type.INCOMING)


class EmailConnection(GroupedRecord):
    class Type(models.TextChoices):
        OUTGOING = "outgoing", "Outgoing"
        INCOMING = "incoming", "Incoming"

    class Auth(models.TextChoices):
        NONE = "none", "None"
        PASSWORD = "password", "Password"
        OAUTH2 = "oauth2", "OAuth 2.0"

    class Status(models.TextChoices):
        OK = "ok", "OK"
        FAILING = "failing", "Failing"
        UNTESTED = "untested", "Untested"
        REAUTHORIZE = "reauthorize", "Reauthorization needed"

    connection_type = models.CharField(
        "Type", max_length=10, choices=Type.choices, default=Type.OUTGOING
    )
    smtp_server = models.CharField("Outgoing Mail Server (SMTP)", max_length=255, blank=True)
    smtp_port = models.PositiveIntegerField("SMTP Port", default=25, validators=PORT_VALIDATORS)
    imap_server = models.CharField("Incoming Mail Server (IMAP)", max_length=255, blank=True)
    imap_port = models.PositiveIntegerField("IMAP Port", default=143, validators=PORT_VALIDATORS)
    enable_ssl = models.BooleanField("Enable SSL", default=False)
    enable_starttls = models.BooleanField("Enable STARTTLS", default=False)
    email_address = models.EmailField("Email Address", max_length=254)
    authentication = models.CharField(
        "Authentication", max_length=10, choices=Auth.choices, default=Auth.PASSWORD
    )
    user_name = models.CharField("User Name", max_length=255, blank=True)
    password_enc = models.TextField(blank=True, editable=False)
    password_changed_at = models.DateTimeField(null=True, blank=True, editable=False)
    oauth_client = models.ForeignKey(
        OAuthClient,
        verbose_name="OAuth Client",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="connections",
    )
    system_connection = models.BooleanField("System Connection", default=False)
    trash_folder = models.CharField("Trash Folder", max_length=255, blank=True)
    notify_addresses = models.TextField(
        "Also Notify",
        blank=True,
        help_text="Comma-separated addresses told when this connection fails or recovers, "
        "besides the Notification Settings' recipients.",
    )
    health_check = models.CharField(
        "Health Check",
        max_length=10,
        choices=HealthCheck.choices,
        default=HealthCheck.DEFAULT,
        blank=True,
        help_text="A dry-run Test on the worker (nothing is sent). Default: hourly once a Test "
        "has passed.",
    )

    # Authorization state (runtime, not versioned; tokens encrypted, never shown).
    oauth_authorized = models.BooleanField("Authorized", default=False, editable=False)
    oauth_account = models.CharField(
        "Authorized Account", max_length=255, blank=True, editable=False
    )
    oauth_scopes = models.TextField("Granted Scopes", blank=True, editable=False)
    oauth_access_token_enc = models.TextField(blank=True, editable=False)
    oauth_refresh_token_enc = models.TextField(blank=True, editable=False)
    oauth_expires_at = models.DateTimeField("Access Token Expires", null=True, editable=False)
    oauth_refreshed_at = models.DateTimeField("Last Refresh", null=True, editable=False)
    oauth_last_error = models.TextField("Last Authorization Error", blank=True, editable=False)
    oauth_authorized_at = models.DateTimeField("Authorized At", null=True, editable=False)
    oauth_needs_reauth = models.BooleanField(
        "Reauthorization Needed", default=False, editable=False
    )
    # Held by the worker refreshing the token (tokens.claim), so that no other sends it too.
    oauth_refresh_lease = models.DateTimeField(null=True, editable=False)

    # Last Test (runtime, not versioned).
    last_test_at = models.DateTimeField("Last Test", null=True, editable=False)
    last_test_ok = models.BooleanField("Last Test Passed", null=True, editable=False)
    last_test_summary = models.TextField("Last Test Result", blank=True, editable=False)
    last_passed_at = models.DateTimeField("Last Passed Test", null=True, editable=False)

    objects = EmailConnectionQuerySet.as_manager()

    secret_fields = {"password_enc": "Password"}
    state_fields = (
        "oauth_authorized",
        "oauth_account",
        "oauth_scopes",
        "oauth_access_token_enc",
        "oauth_refresh_token_enc",
        "oauth_expires_at",
        "oauth_refreshed_at",
        "oauth_last_error",
        "oauth_authorized_at",
        "oauth_needs_reauth",
        "oauth_refresh_lease",
        "last_test_at",
        "last_test_ok",
        "last_test_summary",
        "last_passed_at",
    )
    history = history("password_enc", *state_fields)

    class Meta(Record.Meta):
        verbose_name = "Email Connection"
        permissions = [
            ("test_emailconnection", "Can test email connection"),
            ("authorize_emailconnection", "Can authorize email connection"),
            ("restore_emailconnection", "Can restore versions of email connection"),
        ]
        constraints = [
            *Record.Meta.constraints,
            models.UniqueConstraint(
                fields=["system_connection"],
                condition=Q(system_connection=True),
                name="connections_single_system_connection",
            ),
        ]
        # The list's sorts (each column, pk breaking ties) and its filters under the default
        # sort by name: at 100k connections a page is an index range, not a sort of them all.
        indexes = [
            *(
                models.Index(fields=[column, "id"], name=f"conn_{short}_sort")
                for column, short in (
                    ("name", "name"),
                    ("connection_type", "type"),
                    ("email_address", "email"),
                    ("authentication", "auth"),
                    ("system_connection", "system"),
                    ("last_test_ok", "test_ok"),
                    ("last_test_at", "test_at"),
                    ("updated_at", "updated"),
                )
            ),
            *(
                models.Index(fields=[column, "name", "id"], name=f"conn_{short}_filter")
                for column, short in (
                    ("connection_type", "type"),
                    ("authentication", "auth"),
                    ("last_test_ok", "test_ok"),
                )
            ),
        ]

    @property
    def is_outgoing(self) -> bool:
        return self.connection_type == self.Type.OUTGOING

    @property
    def server(self) -> str:
        return self.smtp_server if self.is_outgoing else self.imap_server

    @property
    def port(self) -> int:
        return self.smtp_port if self.is_outgoing else self.imap_port

    def endpoint(self) -> tuple[str, str, int, str]:
        """Where a stored password or token goes: Type, server, port and user."""
        return (
            self.connection_type,
            (self.server or "").strip().lower(),
            int(self.port or 0),
            self.user_name,
        )

    def unbound_password(self, current: "EmailConnection | None") -> bool:
        """True when the stored password would follow this change to another endpoint."""
        return bool(
            current is not None
            and current.has_secret("password")
            and not self.typed_secret("password")
            and self.endpoint() != current.endpoint()
        )

    def bind_to(self, current: "EmailConnection") -> None:
        """A stored password or OAuth token is only ever sent where it was stored for.

        A password that no longer applies (another Authentication) is forgotten when the
        endpoint changes; one that applies must be typed again (clean() says so). Tokens are
        forgotten when the endpoint or the OAuth Client changes.
        """
        if self.unbound_password(current):
            if "password" in self.applicable_fields():
                raise ValidationError({"password": PASSWORD_UNBOUND})
            self.clear_secret("password")
        moved = self.endpoint() != current.endpoint()
        if self.oauth_client_id != current.oauth_client_id or moved:
            self.forget_authorization()

    def forget_authorization(self) -> None:
        """Reset every authorization-state field (tokens included) to its default."""
        for name in self.state_fields:
            if name.startswith("oauth_"):
                setattr(self, name, self._meta.get_field(name).get_default())

    @property
    def status(self) -> str:
        if self.needs_reauthorization:
            return self.Status.REAUTHORIZE
        if self.last_test_ok is None:
            return self.Status.UNTESTED
        return self.Status.OK if self.last_test_ok else self.Status.FAILING

    def get_status_display(self) -> str:
        if self.password_needed:
            return "Password needed"
        return self.Status(self.status).label

    @property
    def password_needed(self) -> bool:
        """Password authentication without a stored password (e.g. after an import)."""
        return self.authentication == self.Auth.PASSWORD and not self.has_secret("password")

    def health_check_interval(self) -> timedelta | None:
        """How often the worker tests this connection; None: never."""
        if self.health_check == HealthCheck.OFF:
            return None
        if self.health_check == HealthCheck.DEFAULT:
            # last_test_ok: a Test that passed before last_passed_at was recorded counts too
            passed = self.last_passed_at or self.last_test_ok
            return timedelta(hours=1) if passed else None
        return timedelta(minutes=int(self.health_check))

    @property
    def uses_oauth(self) -> bool:
        return self.authentication == self.Auth.OAUTH2

    @property
    def has_refresh_token(self) -> bool:
        return bool(self.oauth_refresh_token_enc)

    @property
    def needs_reauthorization(self) -> bool:
        return self.uses_oauth and self.oauth_needs_reauth

    def missing_scopes(self) -> list[str]:
        """Scopes the OAuth Client asks for that the provider did not grant.

        Microsoft never lists offline_access among the granted scopes (a refresh token is
        the proof it was granted), and extra scopes (Google adds openid) are no problem.
        """
        if not self.oauth_authorized or self.oauth_client is None:
            return []
        granted = set(self.oauth_scopes.split())
        wanted = self.oauth_client.scopes.split()
        return [s for s in wanted if s not in granted and s != "offline_access"]

    def applicable_fields(self) -> set[str]:
        """The settings that apply to this connection's Type and Authentication."""
        fields = {
            "enable_ssl",
            "enable_starttls",
            "email_address",
            "authentication",
            "health_check",
            "notify_addresses",
        }
        if self.is_outgoing:
            fields |= {"smtp_server", "smtp_port", "system_connection"}
        else:
            fields |= {"imap_server", "imap_port", "trash_folder"}
        if self.authentication in (self.Auth.PASSWORD, self.Auth.OAUTH2):
            fields.add("user_name")
        if self.authentication == self.Auth.PASSWORD:
            fields.add("password")
        if self.authentication == self.Auth.OAUTH2:
            fields.add("oauth_client")
        return fields

    # Settings that must be given when they apply, and what clean() says when they are not.
    REQUIRED = {
        "smtp_server": "Required for an Outgoing connection.",
        "imap_server": "Required for an Incoming connection.",
        "user_name": "Required for Password and OAuth 2.0 authentication.",
        "oauth_client": "Choose the OAuth Client used to authorize this connection.",
        "password": "Required for Password authentication.",
    }

    def required_fields(self) -> set[str]:
        """The applicable settings that must have a value (Password: unless one is stored
        for this server, port and user; the form checks that one)."""
        return self.applicable_fields() & set(self.REQUIRED)

    @classmethod
    def authentications(cls, connection_type: str) -> list[str]:
        """The Authentication choices of a Type: reading a mailbox needs a login."""
        if connection_type == cls.Type.INCOMING:
            return [cls.Auth.PASSWORD.value, cls.Auth.OAUTH2.value]
        return list(cls.Auth.values)

    @classmethod
    def field_rules(cls) -> dict:
        """Which fields the form shows and requires for each Type and Authentication, and
        the Authentication choices of each Type (record_form.js, the admin's too)."""
        probes = {
            f"{t}|{a}": cls(connection_type=t, authentication=a)
            for t in cls.Type.values
            for a in cls.Auth.values
        }
        return {
            "controls": ["connection_type", "authentication"],
            "rules": {key: sorted(p.applicable_fields()) for key, p in probes.items()},
            "required": {key: sorted(p.required_fields()) for key, p in probes.items()},
            "choices": {"authentication": {t: cls.authentications(t) for t in cls.Type.values}},
        }

    def clean(self) -> None:
        super().clean()
        errors: dict[str, str] = {}
        applies = self.applicable_fields()
        for name in self.required_fields() - {"password"}:
            value = self.oauth_client_id if name == "oauth_client" else getattr(self, name)
            if not (value.strip() if isinstance(value, str) else value):
                errors[name] = self.REQUIRED[name]
        notify, bad = split_addresses(self.notify_addresses)
        if bad:
            errors["notify_addresses"] = f"Not a valid email address: {', '.join(bad)}"
        self.notify_addresses = ", ".join(notify)
        if self.enable_ssl and self.enable_starttls:
            errors["enable_starttls"] = (
                "Choose Enable SSL or Enable STARTTLS, not both: SSL is TLS from the first "
                "byte (465/993), STARTTLS upgrades a plain connection (587/143)."
            )
        if self.authentication not in self.authentications(self.connection_type):
            errors["authentication"] = "An Incoming connection needs Password or OAuth 2.0."
        if "password" in applies and self.pk:
            current = EmailConnection.objects.filter(pk=self.pk).first()
            if self.unbound_password(current):
                errors["password"] = PASSWORD_UNBOUND
        if not self.is_outgoing:
            self.system_connection = False
        if self.system_connection:
            current = EmailConnection.objects.filter(system_connection=True).exclude(pk=self.pk)
            holder = current.values_list("name", flat=True).first()
            if holder:
                errors["system_connection"] = (
                    f'"{holder}" is already the System Connection: clear it there first.'
                )
        if errors:
            raise ValidationError(errors)


class EmailTemplate(GroupedRecord):
    connection = models.ForeignKey(
        EmailConnection,
        verbose_name="Email Connection",
        on_delete=models.PROTECT,
        related_name="templates",
        limit_choices_to={"connection_type": EmailConnection.Type.OUTGOING},
    )
    reply_to = models.CharField("Reply-To", max_length=1000, blank=True)
    to = models.CharField("To", max_length=2000, blank=True)
    cc = models.CharField("CC", max_length=2000, blank=True)
    bcc = models.CharField("BCC", max_length=2000, blank=True)
    subject = models.CharField("Subject", max_length=500, blank=True)
    body = models.TextField("Body")

    history = history()

    class Meta(Record.Meta):
        verbose_name = "Email Template"
        permissions = [
            ("restore_emailtemplate", "Can restore versions of email template"),
        ]

    ADDRESS_FIELDS = ("reply_to", "to", "cc", "bcc")

    def clean(self) -> None:
        super().clean()
        errors: dict[str, str] = {}
        for field in self.ADDRESS_FIELDS:
            value = getattr(self, field)
            addresses, bad = split_addresses(value)
            if bad:
                errors[field] = f"Not a valid email address: {', '.join(bad)}"
            else:
                setattr(self, field, ", ".join(addresses))
        if not any(getattr(self, f).strip() for f in ("to", "cc", "bcc")) and not (
            {"to", "cc", "bcc"} & errors.keys()
        ):
            errors["to"] = "Give at least one recipient in To, CC or BCC."
        if self.connection_id and not self.connection.is_outgoing:
            errors["connection"] = "Choose an Outgoing connection: templates are sent, not read."
        if errors:
            raise ValidationError(errors)


def split_addresses(value: str) -> tuple[list[str], list[str]]:
    """Comma- or semicolon-separated addresses -> (valid, invalid)."""
    parts = [p.strip() for p in (value or "").replace(";", ",").split(",") if p.strip()]
    good, bad = [], []
    for part in parts:
        try:
            validate_email(part)
            good.append(part)
        except ValidationError:
            bad.append(part)
    return good, bad


from connections.notification_models import Notification, NotificationSettings  # noqa: E402, F401
from connections.task_models import EmailMonitorTask, EmailTask, TaskRun  # noqa: E402, F401
