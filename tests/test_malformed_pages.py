"""No request to the pages, however malformed, gets a 500."""

import pytest
from django.urls import reverse

from connections.models import EmailConnection
from tests.factories import connection_form, make_connection, text

pytestmark = pytest.mark.django_db

JUNK = ["abc", "-1", "1e9", "\x00", "' OR 1=1 --", "9" * 40, ""]


@pytest.mark.parametrize("value", JUNK)
@pytest.mark.parametrize(
    "param", ["page", "per_page", "sort", "q", "connection_type", "business_services", "status"]
)
def test_list_query_strings_never_fail(admin_client_logged: object, param: str, value: str) -> None:
    response = admin_client_logged.get(reverse("connections:emailconnection-list"), {param: value})
    assert response.status_code == (400 if "\x00" in value else 200) or (
        param == "page" and response.status_code == 404
    )


@pytest.mark.parametrize("value", JUNK)
@pytest.mark.parametrize(
    "field",
    [
        "name",
        "smtp_port",
        "connection_type",
        "authentication",
        "business_services",
        "oauth_client",
        "email_address",
        "expected_version",
    ],
)
def test_form_posts_never_fail_and_save_nothing_bad(
    admin_client_logged: object, field: str, value: str
) -> None:
    connection = make_connection()
    response = admin_client_logged.post(
        connection.get_absolute_url(), connection_form(**{field: value})
    )
    assert response.status_code in (200, 302)
    connection.refresh_from_db()
    assert "\x00" not in connection.name


def test_a_nul_byte_in_a_name_is_refused_at_the_field(admin_client_logged: object) -> None:
    response = admin_client_logged.post(
        reverse("connections:emailconnection-new"), connection_form(name="bad\x00name")
    )
    assert "Null characters are not allowed." in response.context["form"].errors["name"]
    assert not EmailConnection.objects.exists()


@pytest.mark.parametrize(
    ("name", "query"),
    [
        ("versions", {"page": "abc"}),
        ("compare", {"v": ["abc", "1"]}),
        ("compare", {"v": ["1", "999"]}),
        ("templates", {"back": "http://evil.example.com/"}),
    ],
)
def test_version_pages_with_bad_parameters_never_fail(
    admin_client_logged: object, name: str, query: dict
) -> None:
    connection = make_connection()
    response = admin_client_logged.get(
        reverse(f"connections:emailconnection-{name}", args=[connection.pk]), query
    )
    assert response.status_code in (200, 302, 404)
    assert "evil.example.com" not in text(response)


def test_restoring_a_version_that_does_not_exist_is_404(admin_client_logged: object) -> None:
    connection = make_connection()
    url = reverse("connections:emailconnection-restore", args=[connection.pk, 999])
    assert admin_client_logged.post(url).status_code == 404


def test_a_copy_name_too_long_is_refused(admin_client_logged: object) -> None:
    connection = make_connection()
    url = reverse("connections:emailconnection-copy", args=[connection.pk])
    response = admin_client_logged.post(url, {"name": "x" * 300}, follow=True)
    assert "not made" in text(response)
    assert EmailConnection.objects.count() == 1


def test_the_test_endpoint_with_junk_never_fails(admin_client_logged: object) -> None:
    connection = make_connection()
    url = reverse("connections:emailconnection-test", args=[connection.pk])
    response = admin_client_logged.post(url, {"connection_type": "\x00", "smtp_port": "x"})
    assert response.status_code == 200
    assert "Not tested." in text(response)


def test_get_on_an_action_url_goes_back_to_the_record(admin_client_logged: object) -> None:
    connection = make_connection()
    url = reverse("connections:emailconnection-delete", args=[connection.pk])
    assert admin_client_logged.get(url)["Location"] == connection.get_absolute_url()
    assert EmailConnection.objects.exists()


def test_an_id_too_large_for_the_database_is_404(admin_client_logged: object) -> None:
    assert admin_client_logged.get("/connections/99999999999999999999999/").status_code == 404


@pytest.mark.parametrize(
    "url",
    ["/connections/", "/admin/connections/emailconnection/", "/templates/?q=x"],
)
def test_a_nul_in_a_page_query_string_is_a_400(admin_client_logged: object, url: str) -> None:
    response = admin_client_logged.get(url, {"q": "a\x00b"})
    assert response.status_code == 400
