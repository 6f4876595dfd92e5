import pytest
from django.urls import reverse

from connections.models import EmailConnection, OAuthClient
from tests.factories import (
    connection_form,
    make_connection,
    make_oauth_client,
    make_template,
    text,
)

pytestmark = pytest.mark.django_db

NEW = reverse("connections:emailconnection-new")
LIST = reverse("connections:emailconnection-list")


def field_errors(response: object, field: str) -> list[str]:
    return list(response.context["form"].errors.get(field, []))


def test_root_leads_to_the_connection_list(admin_client_logged: object) -> None:
    response = admin_client_logged.get("/", follow=True)
    assert response.redirect_chain[-1][0] == LIST


def test_pages_require_login(client: object) -> None:
    response = client.get(LIST)
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_save_stores_the_connection_and_returns_to_the_list(admin_client_logged: object) -> None:
    response = admin_client_logged.post(NEW, connection_form(), follow=True)
    assert response.redirect_chain[-1][0] == LIST
    assert 'Email Connection "Invoices" saved.' in text(response)
    connection = EmailConnection.objects.get(name="Invoices")
    assert connection.version == 1
    assert connection.get_secret("password") == "pa55word"
    assert connection.created_by.username == "admin"


def test_save_and_new_shows_a_fresh_form(admin_client_logged: object) -> None:
    response = admin_client_logged.post(NEW, connection_form(_save=None, _save_new=""))
    assert response["Location"] == NEW


def test_save_and_view_opens_the_stored_record(admin_client_logged: object) -> None:
    response = admin_client_logged.post(NEW, connection_form(_save=None, _save_view=""))
    assert response["Location"] == EmailConnection.objects.get().get_absolute_url()


def test_a_name_taken_in_another_case_is_refused(admin_client_logged: object) -> None:
    make_connection(name="Invoices")
    response = admin_client_logged.post(NEW, connection_form(name="INVOICES"))
    assert field_errors(response, "name") == ["Name must be unique."]
    assert EmailConnection.objects.count() == 1


@pytest.mark.parametrize("port", ["0", "70000", "abc"])
def test_a_port_outside_1_to_65535_is_refused(admin_client_logged: object, port: str) -> None:
    response = admin_client_logged.post(NEW, connection_form(smtp_port=port))
    assert field_errors(response, "smtp_port")
    assert not EmailConnection.objects.exists()


def test_ssl_and_starttls_together_are_refused(admin_client_logged: object) -> None:
    response = admin_client_logged.post(NEW, connection_form(enable_ssl="on"))
    assert "not both" in field_errors(response, "enable_starttls")[0]
    assert not EmailConnection.objects.exists()


def test_outgoing_needs_an_smtp_server(admin_client_logged: object) -> None:
    response = admin_client_logged.post(NEW, connection_form(smtp_server=""))
    assert field_errors(response, "smtp_server") == ["Required for an Outgoing connection."]


def test_password_authentication_needs_a_user_name(admin_client_logged: object) -> None:
    response = admin_client_logged.post(NEW, connection_form(user_name=""))
    assert field_errors(response, "user_name")
    assert not EmailConnection.objects.exists()


def test_password_authentication_needs_a_password_on_create(admin_client_logged: object) -> None:
    response = admin_client_logged.post(NEW, connection_form(password=""))
    assert field_errors(response, "password") == ["Required for Password authentication."]


def test_oauth_needs_an_oauth_client(admin_client_logged: object) -> None:
    response = admin_client_logged.post(
        NEW, connection_form(authentication="oauth2", password="", oauth_client="")
    )
    assert "OAuth Client" in field_errors(response, "oauth_client")[0]


def test_an_invalid_email_address_is_refused(admin_client_logged: object) -> None:
    response = admin_client_logged.post(NEW, connection_form(email_address="not an address"))
    assert field_errors(response, "email_address")


def test_a_second_system_connection_names_the_current_one(admin_client_logged: object) -> None:
    make_connection(name="Platform", system_connection=True)
    response = admin_client_logged.post(NEW, connection_form(system_connection="on"))
    message = field_errors(response, "system_connection")[0]
    assert '"Platform" is already the System Connection' in message
    assert EmailConnection.objects.count() == 1


def test_fields_that_do_not_apply_are_not_validated(admin_client_logged: object) -> None:
    data = connection_form(
        connection_type="incoming",
        imap_server="imap.example.com",
        smtp_server="",
        smtp_port="abc",
        system_connection="on",
    )
    response = admin_client_logged.post(NEW, data)
    assert response.status_code == 302
    connection = EmailConnection.objects.get()
    assert connection.smtp_port == 25
    assert not connection.system_connection


def test_the_password_is_never_rendered_back(admin_client_logged: object) -> None:
    connection = make_connection(password="Sup3r-Secret")
    page = text(admin_client_logged.get(connection.get_absolute_url()))
    assert "Sup3r-Secret" not in page
    assert connection.password_enc not in page
    assert "Leave blank to keep the stored value." in page


def test_update_with_a_blank_password_keeps_the_stored_one(admin_client_logged: object) -> None:
    connection = make_connection(password="Sup3r-Secret")
    data = connection_form(
        name="Mailer",
        smtp_server="127.0.0.1",
        smtp_port="2525",
        user_name="alice",
        password="",
        description="changed",
        expected_version="1",
    )
    response = admin_client_logged.post(connection.get_absolute_url(), data, follow=True)
    assert 'Email Connection "Mailer" updated.' in text(response)
    connection.refresh_from_db()
    assert connection.version == 2
    assert connection.get_secret("password") == "Sup3r-Secret"


def test_copy_takes_settings_and_password_but_never_tokens(admin_client_logged: object) -> None:
    client_record = make_oauth_client()
    connection = make_connection(authentication="oauth2", oauth_client=client_record, password="")
    connection.set_secret("password", "kept-password")
    connection.set_secret("oauth_access_token", "access-xyz")
    connection.oauth_authorized = True
    connection.save()
    response = admin_client_logged.post(
        reverse("connections:emailconnection-copy", args=[connection.pk]),
        {"name": "Mailer 2"},
        follow=True,
    )
    copy = EmailConnection.objects.get(name="Mailer 2")
    assert response.redirect_chain[-1][0] == copy.get_absolute_url()
    assert copy.oauth_client == client_record
    assert copy.get_secret("password") == "kept-password"
    assert not copy.oauth_authorized
    assert copy.oauth_access_token_enc == ""
    assert copy.version == 1
    assert copy.uuid != connection.uuid


def test_copy_with_a_taken_name_says_so(admin_client_logged: object) -> None:
    connection = make_connection()
    response = admin_client_logged.post(
        reverse("connections:emailconnection-copy", args=[connection.pk]),
        {"name": "mailer"},
        follow=True,
    )
    assert "Name must be unique." in text(response)
    assert EmailConnection.objects.count() == 1


def test_delete_is_refused_naming_the_templates_that_use_it(admin_client_logged: object) -> None:
    connection = make_connection()
    make_template(connection, name="Invoice run")
    response = admin_client_logged.post(
        reverse("connections:emailconnection-delete", args=[connection.pk]), follow=True
    )
    assert 'Email Template "Invoice run"' in text(response)
    assert EmailConnection.objects.exists()


def test_delete_removes_an_unused_connection(admin_client_logged: object) -> None:
    connection = make_connection()
    response = admin_client_logged.post(
        reverse("connections:emailconnection-delete", args=[connection.pk]), follow=True
    )
    assert 'Email Connection "Mailer" deleted.' in text(response)
    assert not EmailConnection.objects.exists()


def test_a_view_only_user_sees_no_change_buttons(client: object, viewer: object) -> None:
    connection = make_connection()
    client.force_login(viewer)
    page = text(client.get(connection.get_absolute_url()))
    assert ">Update<" not in page
    assert ">Delete<" not in page
    assert ">Copy<" not in page
    assert 'disabled id="id_name"' in page or "disabled" in page


@pytest.mark.parametrize("action", ["detail", "copy", "delete"])
def test_a_view_only_user_gets_403_on_post(client: object, viewer: object, action: str) -> None:
    connection = make_connection()
    client.force_login(viewer)
    url = reverse(f"connections:emailconnection-{action}", args=[connection.pk])
    response = client.post(url, connection_form(name="Hijacked"))
    assert response.status_code == 403
    connection.refresh_from_db()
    assert connection.name == "Mailer"


def test_a_view_only_user_cannot_open_the_new_form(client: object, viewer: object) -> None:
    client.force_login(viewer)
    assert client.get(NEW).status_code == 403


def test_the_list_filters_by_type_and_searches(admin_client_logged: object) -> None:
    make_connection(name="Sender")
    make_connection(
        name="Reader", connection_type="incoming", imap_server="imap.example.com", smtp_server=""
    )
    page = text(admin_client_logged.get(LIST, {"connection_type": "incoming"}))
    assert "Reader" in page
    assert "Sender" not in page
    page = text(admin_client_logged.get(LIST, {"q": "send"}))
    assert "Sender" in page
    assert "Reader" not in page


def test_the_list_sorts_by_a_column(admin_client_logged: object) -> None:
    make_connection(name="Alpha", smtp_port=2600)
    make_connection(name="Beta", smtp_port=2500)
    page = text(admin_client_logged.get(LIST, {"sort": "-name"}))
    assert page.index("Beta") < page.index("Alpha")


@pytest.mark.parametrize("rows", [5, 500])
def test_the_list_query_count_does_not_grow_with_rows(
    admin_client_logged: object, django_assert_max_num_queries: object, rows: int
) -> None:
    EmailConnection.objects.bulk_create(
        EmailConnection(name=f"c{i:04}", smtp_server="h", email_address="a@b.cd")
        for i in range(rows)
    )
    with django_assert_max_num_queries(8):
        response = admin_client_logged.get(LIST, {"per_page": "200"})
    assert response.status_code == 200


def test_an_oauth_client_provider_cannot_change(admin_client_logged: object) -> None:
    record = make_oauth_client()
    data = {
        "name": record.name,
        "provider": "google",
        "client_id": "x",
        "expected_version": "1",
    }
    admin_client_logged.post(record.get_absolute_url(), data)
    record.refresh_from_db()
    assert record.provider == OAuthClient.Provider.MICROSOFT


def test_a_refused_form_asks_for_the_password_again_without_showing_it(
    admin_client_logged: object,
) -> None:
    response = admin_client_logged.post(NEW, connection_form(smtp_port="0", password="Typed-pw-1"))
    page = text(response)
    assert "Type the password again" in page
    assert "Typed-pw-1" not in page
