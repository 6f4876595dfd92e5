"""No request to the pages or the API, however malformed, gets a 500."""

from collections.abc import Callable

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


@pytest.mark.parametrize("sort", ["--name", "-", "--", "name,", "-name,version", "ñame", "-ñ"])
@pytest.mark.parametrize(
    "url", ["/connections/", "/templates/", "/oauth-clients/", "/business-services/"]
)
def test_a_malformed_sort_falls_back_to_the_name_order(
    admin_client_logged: object, url: str, sort: str
) -> None:
    make_connection()
    response = admin_client_logged.get(url, {"sort": sort})
    assert response.status_code == 200
    assert response.context["sort"] == "name"


DEEP = "[" * 100_000
WRITES = [
    ("post", "/api/v1/connections/"),
    ("patch", "/api/v1/connections/{pk}/"),
    ("post", "/api/v1/business-services/"),
    ("post", "/cam/api/v1/smtpconnections"),
    ("post", "/cam/composer/api/v1/smtpconnections/patchConnectionParametersById"),
    ("post", "/cam/composer/api/v1/smtpconnections/testEmailById"),
]


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_a_deeply_nested_json_body_is_a_400(
    api_as: Callable, operator: object, method: str, path: str
) -> None:
    connection = make_connection()
    api = api_as(operator)
    response = getattr(api, method)(path.format(pk=connection.pk), DEEP)
    assert response.status_code == 400
    assert "nested" in response.json()["message"]
    assert set(response.json()) == {"message", "errors"}


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_a_deeply_nested_json_body_without_a_token_is_a_401(
    client: object, method: str, path: str
) -> None:
    response = getattr(client, method)(path.format(pk=1), DEEP, content_type="application/json")
    assert response.status_code == 401


@pytest.mark.parametrize(("method", "path"), WRITES)
def test_a_deeply_nested_json_body_with_an_invalid_token_is_a_401_before_any_parse(
    client: object, method: str, path: str
) -> None:
    response = getattr(client, method)(
        path.format(pk=1),
        DEEP,
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer not-a-token-of-ours",
    )
    assert response.status_code == 401


def test_brackets_inside_strings_are_not_nesting(api_as: Callable, operator: object) -> None:
    api = api_as(operator)
    description = '[{"quoted\\" ' + "[" * 100
    response = api.post(
        "/cam/api/v1/smtpconnections",
        {
            "name": "Brackets",
            "description": description,
            "connection_parameters": [
                {"name": "hostname", "value": "smtp.example.com"},
                {"name": "username", "value": "alice"},
                {"name": "password", "value": "{" * 50},
            ],
        },
    )
    assert response.status_code == 201, response.content
    assert EmailConnection.objects.get(name="Brackets").description == description
