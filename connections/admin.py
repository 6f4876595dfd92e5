"""Django admin for the four records: the pages' forms, the same save path, no secret shown."""

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from simple_history.admin import SimpleHistoryAdmin

from connections import records
from connections.forms import (
    BusinessServiceForm,
    EmailConnectionForm,
    EmailTemplateForm,
    OAuthClientForm,
)
from connections.models import BusinessService, EmailConnection, EmailTemplate, OAuthClient

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


class RecordAdmin(SimpleHistoryAdmin):
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
        return super().history_form_view(request, object_id, version_id, extra_context)

    def check_visible(self, request: HttpRequest, object_id: str) -> None:
        # simple-history falls back to the history row when get_queryset hides a record (for
        # deleted records): that would show another team's record, so refuse it here.
        if request.user.is_superuser:
            return
        if not self.get_queryset(request).filter(pk=unquote(object_id)).exists():
            raise Http404

    def get_form(self, request: HttpRequest, obj: object = None, **kwargs: object) -> type:
        form = super().get_form(request, obj, **kwargs)

        class ScopedForm(form):
            # The pages' forms offer only the editor's own Business Services; so does the admin.
            def __init__(self, *args: object, **kw: object) -> None:
                super().__init__(*args, user=request.user, **kw)

        return ScopedForm

    def save_model(self, request: HttpRequest, obj: object, form: object, change: bool) -> None:
        records.save_record(
            obj, request.user, m2m=form.m2m_data(), reason="Changed in the Django admin"
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
    list_filter = ("provider", "business_services")
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
        "business_services",
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

    @admin.display(description="Status")
    def status_label(self, obj: EmailConnection) -> str:
        return obj.get_status_display()


@admin.register(EmailTemplate)
class EmailTemplateAdmin(RecordAdmin):
    form = EmailTemplateForm
    list_display = ("name", "connection", "to", "subject", "version", "updated_at")
    list_filter = ("business_services", "connection")
    list_select_related = ("connection",)
    search_fields = ("name", "description", "subject", "to")
    fields = (*EmailTemplateForm.Meta.fields, *METADATA)
