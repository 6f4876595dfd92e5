import re

import pytest
from django.urls import reverse

from connections.models import BusinessService, EmailTemplate, OAuthClient
from tests.factories import make_connection, make_oauth_client, make_template, text

pytestmark = pytest.mark.django_db

NEW_TEMPLATE = reverse("connections:emailtemplate-new")


def template_form(connection: object, **overrides: object) -> dict:
    data = {
        "name": "Job failed",
        "connection": str(connection.pk),
        "to": "ops@example.com",
        "cc": "",
        "bcc": "",
        "reply_to": "",
        "subject": "Job ${job} failed",
        "body": "Hello ${name}",
        "_save_view": "",
    }
    data.update(overrides)
    return data


def test_a_template_is_saved_with_its_addresses(admin_client_logged: object) -> None:
    connection = make_connection()
    response = admin_client_logged.post(
        NEW_TEMPLATE, template_form(connection, cc="a@example.com; b@example.com")
    )
    template = EmailTemplate.objects.get()
    assert response["Location"] == template.get_absolute_url()
    assert template.cc == "a@example.com, b@example.com"


def test_an_invalid_cc_address_is_named_at_the_field(admin_client_logged: object) -> None:
    connection = make_connection()
    response = admin_client_logged.post(
        NEW_TEMPLATE, template_form(connection, cc="good@example.com, not-an-address")
    )
    assert response.context["form"].errors["cc"] == ["Not a valid email address: not-an-address"]
    assert not EmailTemplate.objects.exists()


def test_a_template_needs_a_recipient(admin_client_logged: object) -> None:
    connection = make_connection()
    response = admin_client_logged.post(NEW_TEMPLATE, template_form(connection, to=""))
    assert "at least one recipient" in response.context["form"].errors["to"][0]
    assert not EmailTemplate.objects.exists()


def test_a_template_cannot_use_an_incoming_connection(admin_client_logged: object) -> None:
    incoming = make_connection(
        connection_type="incoming", imap_server="imap.example.com", smtp_server=""
    )
    response = admin_client_logged.post(NEW_TEMPLATE, template_form(incoming))
    assert response.context["form"].errors["connection"]
    assert not EmailTemplate.objects.exists()


def test_the_templates_tab_lists_the_templates_of_a_connection(
    admin_client_logged: object,
) -> None:
    connection = make_connection()
    make_template(connection, name="Invoice run")
    page = text(
        admin_client_logged.get(
            reverse("connections:emailconnection-templates", args=[connection.pk])
        )
    )
    assert "Invoice run" in page


def test_an_oauth_client_gets_the_provider_defaults(admin_client_logged: object) -> None:
    admin_client_logged.post(
        reverse("connections:oauthclient-new"),
        {"name": "Google", "provider": "google", "client_id": "id", "_save": ""},
    )
    record = OAuthClient.objects.get()
    assert record.scopes == "https://mail.google.com/"
    assert record.token_endpoint == "https://oauth2.googleapis.com/token"


def test_a_custom_oauth_client_needs_its_endpoints(admin_client_logged: object) -> None:
    response = admin_client_logged.post(
        reverse("connections:oauthclient-new"),
        {"name": "IdP", "provider": "custom", "client_id": "id", "_save": ""},
    )
    assert response.context["form"].errors["token_endpoint"]
    assert not OAuthClient.objects.exists()


def test_an_oauth_client_in_use_is_not_deleted(admin_client_logged: object) -> None:
    record = make_oauth_client()
    make_connection(authentication="oauth2", oauth_client=record, password="")
    response = admin_client_logged.post(
        reverse("connections:oauthclient-delete", args=[record.pk]), follow=True
    )
    assert 'Email Connection "Mailer"' in text(response)
    assert OAuthClient.objects.exists()


def test_a_business_service_groups_records_in_the_list(admin_client_logged: object) -> None:
    admin_client_logged.post(
        reverse("connections:businessservice-new"), {"name": "Accounting", "_save": ""}
    )
    service = BusinessService.objects.get()
    make_connection(name="In accounting", services=[service])
    make_connection(name="Elsewhere", smtp_port=2600)
    page = text(
        admin_client_logged.get(
            reverse("connections:emailconnection-list"), {"business_services": service.pk}
        )
    )
    assert "In accounting" in page
    assert "Elsewhere" not in page


@pytest.mark.parametrize(
    ("kind", "labels"),
    [
        (
            "emailconnection",
            [
                "Name",
                "Description",
                "Member of Business Services",
                "Type",
                "Outgoing Mail Server (SMTP)",
                "SMTP Port",
                "Incoming Mail Server (IMAP)",
                "IMAP Port",
                "Enable SSL",
                "Enable STARTTLS",
                "Email Address",
                "Authentication",
                "User Name",
                "Password",
                "OAuth Client",
                "System Connection",
                "Trash Folder",
            ],
        ),
        ("emailtemplate", ["Email Connection", "Reply-To", "To", "CC", "BCC", "Subject", "Body"]),
        ("oauthclient", ["Provider", "Tenant ID", "Client ID", "Client Secret", "Scopes"]),
        ("businessservice", ["Name", "Description", "Users", "Groups"]),
    ],
)
def test_the_new_page_shows_the_spec_labels_and_buttons(
    admin_client_logged: object, kind: str, labels: list[str]
) -> None:
    page = text(admin_client_logged.get(reverse(f"connections:{kind}-new")))
    for label in labels:
        assert re.search(rf">\s*{re.escape(label)}\s*<", page), label
    for button in ("Save", "Save & New", "Save & View"):
        assert f">{button}</button>" in page


@pytest.mark.parametrize(
    "kind", ["emailconnection", "emailtemplate", "oauthclient", "businessservice"]
)
def test_the_admin_lists_and_adds_every_record_type(admin_client_logged: object, kind: str) -> None:
    assert (
        admin_client_logged.get(reverse(f"admin:connections_{kind}_changelist")).status_code == 200
    )
    assert admin_client_logged.get(reverse(f"admin:connections_{kind}_add")).status_code == 200


def test_the_authentication_options_are_the_spec_labels(admin_client_logged: object) -> None:
    page = text(admin_client_logged.get(reverse("connections:emailconnection-new")))
    for option in (
        'value="none">None<',
        'value="password" selected>Password<',
        'value="oauth2">OAuth 2.0<',
    ):
        assert option in page


@pytest.mark.parametrize("tenant", ["contoso onmicrosoft", "a/b", "..", "tenänt"])
def test_a_microsoft_tenant_id_must_be_a_keyword_guid_or_domain(
    admin_client_logged: object, tenant: str
) -> None:
    response = admin_client_logged.post(
        reverse("connections:oauthclient-new"),
        {"name": "Entra", "provider": "microsoft", "tenant_id": tenant, "client_id": "id"},
    )
    assert response.context["form"].errors["tenant_id"]
    assert not OAuthClient.objects.exists()


def test_a_name_of_spaces_is_refused_as_blank() -> None:
    from django.core.exceptions import ValidationError

    service = BusinessService(name="   ")
    with pytest.raises(ValidationError) as refused:
        service.full_clean()
    assert "name" in refused.value.message_dict
