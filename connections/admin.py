"""Django admin for the four records: the pages' forms, the same save path, no secret shown."""

import re

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Field, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from simple_history.admin import SimpleHistoryAdmin

from connections import records
from connections.admin_history import ConstantHistoryPage
from connections.converters import RecordId
from connections.forms import (
    BusinessServiceForm,
    EmailConnectionForm,
    EmailTemplateForm,
    OAuthClientForm,
)
from connections.models import BusinessService, EmailConnection, EmailTemplate, OAuthClient, Record

METADATA = ("version", "uuid", "created_by", "created_at", "updated_by", "updated_at")
# An OAuth connection's authorization state, shown read-only (never the tokens).
AUTHORIZATION = (
    "oauth_authorized",
    "oauth_account",
    "oauth_scopes",
    "oauth_expires_at",
    "oauth_authorized_at",
    "oauth_refreshed_at",
    "oauth_needs_reauth",
    "oauth_last_error",
)


def stale_message(current: Record, opened: object) -> str:
    return (
        f'{current._meta.verbose_name} "{current}" was changed by '
        f"{current.updated_by or 'someone else'} since you opened it (you opened version "
        f"{opened}, it is now version {current.version}). Nothing was saved: reload the page "
        "and apply your changes again."
    )


def is_record_id(value: str) -> bool:
    return re.fullmatch(RecordId.regex, value) is not None


class VisibleRelatedFilter(admin.RelatedFieldListFilter):
    """The sidebar's choice of related records: only those the user may see, as on the pages."""

    def field_choices(
        self, field: Field, request: HttpRequest, model_admin: admin.ModelAdmin
    ) -> list[tuple[int, str]]:
        related = field.related_model.objects.visible_to(request.user).order_by("name")
        return [(record.pk, str(record)) for record in related]


class RecordAdmin(ConstantHistoryPage, SimpleHistoryAdmin):
    readonly_fields = METADATA
    search_fields = ("name", "description")
    list_per_page = 50

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).visible_to(request.user)

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: object = None
    ) -> HttpResponse:
        self.check_visible(request, object_id)
        return super().history_view(request, object_id, extra_context)

    def history_form_view(
        self, request: HttpRequest, object_id: str, version_id: str, extra_context: object = None
    ) -> HttpResponse:
        self.check_visible(request, object_id)
        if not is_record_id(version_id):
            raise Http404
        if request.method == "POST":
            # simple-history saves a posted old version even with its Revert button hidden;
            # going back is the Versions tab's Restore (own permission, secrets kept).
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Record | None:
        # "?_to_field=" (empty) names no field; Django would look up a field called "" (a 500).
        return super().get_object(request, object_id, from_field or None)

    def check_visible(self, request: HttpRequest, object_id: str) -> None:
        # simple-history looks the id up unchecked (a 500 for "abc"), and falls back to the
        # history row when get_queryset hides a record (for deleted records): that would show
        # another team's record, so refuse both here.
        if not is_record_id(unquote(object_id)):
            raise Http404
        if request.user.is_superuser:
            return
        if not self.get_queryset(request).filter(pk=unquote(object_id)).exists():
            raise Http404

    def get_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        fields = list(super().get_fields(request, obj))
        if obj is not None and self.has_change_permission(request, obj):
            # Posted back with the change, so a save over a newer version is refused.
            fields.append("expected_version")
        return fields

    def get_form(
        self, request: HttpRequest, obj: object = None, change: bool = False, **kwargs: object
    ) -> type:
        # For a viewer Django builds a form without fields (all are shown read-only); the
        # pages' forms set up their fields' choices, so they are built whole, never posted.
        editable = change and self.has_change_permission(request, obj)
        # Meta.fields are the record's settings, as on the pages (whose clean() drops any that
        # does not apply); the version travels in the form's own hidden field.
        fields = kwargs.pop("fields", None)
        if fields is None:
            fields = flatten_fieldsets(self.get_fieldsets(request, obj))
        kwargs["fields"] = [name for name in fields if name != "expected_version"]
        form = super().get_form(request, obj, change=editable, **kwargs)

        class ScopedForm(form):
            # The pages' forms offer only the editor's own Business Services; so does the admin.
            def __init__(self, *args: object, **kw: object) -> None:
                super().__init__(*args, user=request.user, **kw)

            def clean(self) -> dict:
                data = super().clean()
                opened = data.get("expected_version")
                if self.instance.pk and opened is not None:
                    current = type(self.instance).objects.get(pk=self.instance.pk)
                    if current.version != opened:
                        raise ValidationError(stale_message(current, opened))
                return data

        return ScopedForm

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict | None = None,
    ) -> HttpResponse:
        # Another save may land between the form's check and this one (the transaction is
        # rolled back): say so on the reloaded page.
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except records.StaleRecord as stale:
            opened = request.POST.get("expected_version", "?")
            self.message_user(request, stale_message(stale.current, opened), messages.ERROR)
        except records.NameTaken:
            self.message_user(request, "Name must be unique. Nothing was saved.", messages.ERROR)
        return HttpResponseRedirect(request.get_full_path())

    def save_model(self, request: HttpRequest, obj: object, form: object, change: bool) -> None:
        records.save_record(
            obj,
            request.user,
            m2m=form.m2m_data(),
            expected_version=form.cleaned_data.get("expected_version") if change else None,
            reason="Changed in the Django admin",
        )

    def save_related(
        self, request: HttpRequest, form: object, formsets: list, change: bool
    ) -> None:
        # save_record already stored the many-to-many members with the version.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def delete_model(self, request: HttpRequest, obj: object) -> None:
        records.delete_record(obj, request.user)


@admin.register(BusinessService)
class BusinessServiceAdmin(RecordAdmin):
    form = BusinessServiceForm
    list_display = ("name", "description", "version", "updated_by", "updated_at")
    filter_horizontal = ("users", "groups")
    fields = (*BusinessServiceForm.Meta.fields, *METADATA)


@admin.register(OAuthClient)
class OAuthClientAdmin(RecordAdmin):
    form = OAuthClientForm
    list_display = ("name", "provider", "tenant_id", "client_id", "version", "updated_at")
    list_filter = ("provider", ("business_services", VisibleRelatedFilter))
    search_fields = ("name", "description", "client_id")
    fields = (*OAuthClientForm.Meta.fields, *METADATA)


@admin.register(EmailConnection)
class EmailConnectionAdmin(RecordAdmin):
    form = EmailConnectionForm
    list_display = (
        "name",
        "connection_type",
        "server",
        "port",
        "email_address",
        "authentication",
        "system_connection",
        "status_label",
        "version",
        "updated_at",
    )
    list_filter = (
        "connection_type",
        "authentication",
        "system_connection",
        "enable_ssl",
        "enable_starttls",
        ("business_services", VisibleRelatedFilter),
    )
    search_fields = ("name", "description", "smtp_server", "imap_server", "email_address")
    list_select_related = ("oauth_client",)
    fields = (
        *EmailConnectionForm.Meta.fields,
        *AUTHORIZATION,
        "last_test_at",
        "last_test_ok",
        *METADATA,
    )
    readonly_fields = (
        *METADATA,
        *AUTHORIZATION,
        "last_test_at",
        "last_test_ok",
    )

    # The pages' grouping: server beside port, SSL beside STARTTLS; the settings that do not
    # apply to the Type/Authentication are hidden as on the pages (record_form.js reads the
    # model's field_rules: admin/connections/emailconnection/change_form.html).
    ROWS = (
        ("smtp_server", "smtp_port"),
        ("imap_server", "imap_port"),
        ("enable_ssl", "enable_starttls"),
    )

    def get_fieldsets(self, request: HttpRequest, obj: object = None) -> list:
        fields = list(self.get_fields(request, obj))
        paired = {name: row for row in self.ROWS for name in row if set(row) <= set(fields)}
        groups: dict[str, list] = {"": [], "Authorization": [], "Last Test": [], "Metadata": []}
        for name in fields:
            if name in METADATA:
                group = "Metadata"
            elif name.startswith("last_test"):
                group = "Last Test"
            elif name.startswith("oauth_") and name != "oauth_client":
                group = "Authorization"
            else:
                group = ""
            if name in paired:
                if name == paired[name][0]:
                    groups[group].append(paired[name])
                continue
            groups[group].append(name)
        if obj is None or not obj.uses_oauth:
            groups.pop("Authorization")
        return [(title or None, {"fields": items}) for title, items in groups.items() if items]

    def render_change_form(
        self, request: HttpRequest, context: dict, *args: object, **kwargs: object
    ) -> HttpResponse:
        context["field_rules"] = EmailConnection.field_rules()
        return super().render_change_form(request, context, *args, **kwargs)

    @admin.display(description="Status")
    def status_label(self, obj: EmailConnection) -> str:
        return obj.get_status_display()


@admin.register(EmailTemplate)
class EmailTemplateAdmin(RecordAdmin):
    form = EmailTemplateForm
    list_display = ("name", "connection", "to", "subject", "version", "updated_at")
    list_filter = (
        ("business_services", VisibleRelatedFilter),
        ("connection", VisibleRelatedFilter),
    )
    list_select_related = ("connection",)
    search_fields = ("name", "description", "subject", "to")
    fields = (*EmailTemplateForm.Meta.fields, *METADATA)


from connections import task_admin  # noqa: E402, F401 - registers the task types
