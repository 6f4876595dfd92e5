"""ModelForms with explicit fields. Secret inputs are write-only: never rendered back."""

from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Div, Field, Fieldset, Layout
from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from connections.models import (
    BusinessService,
    EmailConnection,
    EmailMonitorTask,
    EmailTask,
    EmailTemplate,
    OAuthClient,
    Record,
)

KEEP_SECRET_HELP = "Leave blank to keep the stored value."


class RecordForm(forms.ModelForm):
    """Shared by every record type: version carried for concurrent edits, crispy layout."""

    expected_version = forms.IntegerField(widget=forms.HiddenInput, required=False)
    layout_fields: tuple = ()

    def __init__(self, *args: object, user: object = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        if self.instance.pk:
            self.fields["expected_version"].initial = self.instance.version
        if "business_services" in self.fields:
            # Checkboxes: a plain click on a multi-select dropped every other membership.
            services = self.fields["business_services"]
            services.widget = forms.CheckboxSelectMultiple()
            services.widget.choices = services.choices
            services.help_text = ""  # not the admin's "Hold down Control" of a multi-select
            if user is not None and not user.is_superuser:
                services.help_text = (
                    "Only your own Business Services are listed; the record keeps its "
                    "memberships in the others."
                )
        if "business_services" in self.fields and user is not None:
            services = BusinessService.objects.order_by("name")
            if not user.is_superuser:
                services = services.of_member(user)
            self.fields["business_services"].queryset = services
        for field in self.fields.values():
            if isinstance(field, forms.ModelChoiceField):
                field.clean = bounded_ids(field)
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True
        self.helper.layout = Layout(
            Fieldset("Details", *(self.layout_fields or self._meta.fields)), "expected_version"
        )

    def m2m_data(self) -> dict[str, list]:
        """The many-to-many values typed; records.save_record keeps the memberships the
        editor cannot see."""
        return {
            f.name: list(self.cleaned_data[f.name])
            for f in self.instance._meta.many_to_many
            if f.name in self.cleaned_data
        }

    def disable_all(self) -> None:
        for field in self.fields.values():
            field.disabled = True


MAX_ID = 2**63 - 1


def bounded_ids(field: forms.ModelChoiceField) -> object:
    """A choice of records refuses ids no database integer holds (SQLite would raise)."""
    clean = field.clean

    def guarded(value: object) -> object:
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if item in (None, ""):
                continue
            if not str(item).isdigit() or int(item) > MAX_ID:
                raise forms.ValidationError(
                    f"Select a valid choice. {str(item)[:20]} is not one of the available choices.",
                    code="invalid_choice",
                )
        return clean(value)

    return guarded


def secret_input(label: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        required=False,
        strip=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )


class BusinessServiceForm(RecordForm):
    class Meta:
        model = BusinessService
        fields = ("name", "description", "users", "groups")
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["users"].queryset = get_user_model().objects.order_by("username")
        self.fields["groups"].queryset = Group.objects.order_by("name")


class OAuthClientForm(RecordForm):
    client_secret = secret_input("Client Secret")

    class Meta:
        model = OAuthClient
        fields = (
            "name",
            "description",
            "business_services",
            "provider",
            "tenant_id",
            "client_id",
            "client_secret",
            "scopes",
            "authorization_endpoint",
            "token_endpoint",
            "userinfo_endpoint",
            "revocation_endpoint",
        )
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "scopes": forms.Textarea(attrs={"rows": 2}),
        }

    # Read-only: the endpoints Provider and Tenant give (filled in by oauth_client.js), and
    # the deployment's Redirect URL to register at the provider, with a copy button.
    layout_fields = (
        "name",
        "description",
        "business_services",
        "provider",
        "tenant_id",
        "client_id",
        "client_secret",
        "scopes",
        HTML(
            '<div class="mb-3 d-none" id="derived-endpoints"><div class="form-label">Endpoints '
            '<span class="text-muted small">(derived from Provider and Tenant)</span></div>'
            '<dl class="row metadata small mb-0">'
            '<dt class="col-4">Authorization</dt><dd class="col-8 text-break" '
            'data-endpoint="authorization_endpoint"></dd>'
            '<dt class="col-4">Token</dt><dd class="col-8 text-break" '
            'data-endpoint="token_endpoint"></dd>'
            '<dt class="col-4">Userinfo</dt><dd class="col-8 text-break" '
            'data-endpoint="userinfo_endpoint"></dd>'
            '<dt class="col-4">Revocation</dt><dd class="col-8 text-break" '
            'data-endpoint="revocation_endpoint"></dd></dl></div>'
        ),
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "revocation_endpoint",
        HTML(
            "{% load oauth_pages static %}"
            '<div class="mb-3" id="div_redirect_url"><label class="form-label" '
            'for="redirect-url">Redirect URL</label><div class="input-group">'
            '<input class="form-control" id="redirect-url" readonly value="{% redirect_url %}">'
            '<button class="btn btn-outline-secondary" type="button" id="copy-redirect-url">'
            'Copy</button></div><div class="form-text">Register this URL at the provider as '
            "the app's redirect (reply) URL.</div></div>"
            "<script src=\"{% static 'connections/oauth_client.js' %}\" defer></script>"
        ),
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["scopes"].help_text = "Blank: the provider's default scopes."
        if self.instance.pk:
            self.fields["provider"].disabled = True
            self.fields["provider"].help_text = "Cannot be changed after the record is created."
            if self.instance.has_secret("client_secret"):
                self.fields["client_secret"].help_text = KEEP_SECRET_HELP

    def clean(self) -> dict:
        data = super().clean()
        self.instance.set_secret("client_secret", data.get("client_secret", ""))
        return data


class EmailConnectionForm(RecordForm):
    password = secret_input("Password")

    class Meta:
        model = EmailConnection
        fields = (
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
            "oauth_client",
            "system_connection",
            "trash_folder",
            "health_check",
            "notify_addresses",
        )
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "notify_addresses": forms.Textarea(attrs={"rows": 2}),
        }

    layout_fields = (
        "name",
        "description",
        "business_services",
        "connection_type",
        Div(
            Div(Field("smtp_server"), css_class="col-md-8"),
            Div(Field("smtp_port"), css_class="col-md-4"),
            css_class="row",
        ),
        Div(
            Div(Field("imap_server"), css_class="col-md-8"),
            Div(Field("imap_port"), css_class="col-md-4"),
            css_class="row",
        ),
        Div(
            Div(Field("enable_ssl"), css_class="col-md-4"),
            Div(Field("enable_starttls"), css_class="col-md-4"),
            css_class="row",
        ),
        "email_address",
        "authentication",
        "user_name",
        "password",
        "oauth_client",
        "system_connection",
        "trash_folder",
        "health_check",
        "notify_addresses",
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["smtp_port"].widget.attrs.update(min=1, max=65535)
        self.fields["imap_port"].widget.attrs.update(min=1, max=65535)
        self.fields["oauth_client"].queryset = (
            OAuthClient.objects.visible_to(self.user)
            if self.user is not None
            else OAuthClient.objects.all()
        )
        if self.instance.pk and self.instance.has_secret("password"):
            self.fields["password"].help_text = KEEP_SECRET_HELP
            # record_form.js: not required, unless the server, port, user or Type changes.
            self.fields["password"].widget.attrs["data-stored"] = "true"

    def clean(self) -> dict:
        data = super().clean()
        probe = EmailConnection(
            connection_type=data.get("connection_type") or self.instance.connection_type,
            authentication=data.get("authentication") or self.instance.authentication,
        )
        applies = probe.applicable_fields()
        for name in self._meta.fields:
            if name in ("name", "description", "business_services", "connection_type"):
                continue
            if name not in applies:
                # Hidden in the page: neither validated nor changed.
                self._errors.pop(name, None)
                data.pop(name, None)
        password = data.get("password", "")
        stored = self.instance.has_secret("password")
        if "password" in probe.required_fields() and not password and not stored:
            self.add_error("password", EmailConnection.REQUIRED["password"])
        self.instance.set_secret("password", password)
        return data

    def full_clean(self) -> None:
        super().full_clean()
        if self._errors and self.data.get("password"):
            # The bound field keeps its own copy of help_text, made during validation.
            hint = "Type the password again: it is never sent back to the browser."
            self["password"].help_text = hint


class EmailTemplateForm(RecordForm):
    class Meta:
        model = EmailTemplate
        fields = (
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
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "body": forms.Textarea(attrs={"rows": 8}),
        }
        help_texts = {
            "to": "Comma-separated addresses.",
            "body": "Use ${variable} placeholders.",
        }

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        visible = (
            EmailConnection.objects.visible_to(self.user)
            if self.user is not None
            else EmailConnection.objects.all()
        )
        self.fields["connection"].queryset = visible.outgoing()


FORMS: dict[type[Record], type[RecordForm]] = {
    EmailConnection: EmailConnectionForm,
    EmailTemplate: EmailTemplateForm,
    OAuthClient: OAuthClientForm,
    BusinessService: BusinessServiceForm,
}

# The task forms build on RecordForm, so they are defined after it, in their own module.
from connections.task_forms import EmailMonitorTaskForm, EmailTaskForm  # noqa: E402

FORMS.update({EmailTask: EmailTaskForm, EmailMonitorTask: EmailMonitorTaskForm})
