"""Bad input gets a JSON error naming the field and the problem, and nothing is saved."""

from typing import Any

import pytest

from connections.models import EmailConnection

pytestmark = pytest.mark.django_db

SEED = "/cam/api/v1/smtpconnections"
PATCH = "/cam/composer/api/v1/smtpconnections/patchConnectionParametersById"
TEST = "/cam/composer/api/v1/smtpconnections/testEmail"
TEST_BY_ID = "/cam/composer/api/v1/smtpconnections/testEmailById"


def create_body(*extra: dict[str, Any], name: str = "New") -> dict[str, Any]:
    return {
        "name": name,
        "connection_parameters": [{"name": "hostname", "value": "smtp.example.com"}, *extra],
    }


def test_malformed_json_is_a_400(api: Any) -> None:
    response = api.post(SEED, '{"name": "x",', content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["message"]


def test_a_body_that_is_not_json_is_a_415(api: Any) -> None:
    response = api.post(SEED, "name=x", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 415
    assert set(response.json()) == {"message", "errors"}


def test_an_unknown_parameter_name_is_refused_naming_it(api: Any) -> None:
    response = api.post(SEED, create_body({"name": "hostnme", "value": "x"}))
    assert response.status_code == 400
    assert "'hostnme'" in response.json()["errors"]["connection_parameters"][0]


@pytest.mark.parametrize("port", ["abc", 0, 70000, "0", True, 25.5])
def test_a_port_outside_1_to_65535_is_refused(api: Any, port: Any) -> None:
    response = api.post(SEED, create_body({"name": "port", "value": port}))
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["port"]
    assert not EmailConnection.objects.exists()


def test_connection_parameters_that_is_not_a_list_is_refused(api: Any) -> None:
    response = api.post(SEED, {"name": "New", "connection_parameters": {"hostname": "x"}})
    assert response.status_code == 400
    assert "Expected a list" in response.json()["errors"]["connection_parameters"][0]


def test_a_parameter_without_a_name_is_refused(api: Any) -> None:
    response = api.post(SEED, create_body({"value": "x"}))
    assert response.json()["errors"]["connection_parameters"] == ["Entry 2 has no name."]


def test_a_parameter_given_twice_is_refused(api: Any) -> None:
    response = api.post(SEED, create_body({"name": "hostname", "value": "other"}))
    assert "more than once" in response.json()["errors"]["connection_parameters"][0]


def test_an_unknown_top_level_key_is_refused(api: Any) -> None:
    response = api.post(SEED, {**create_body(), "colour": "blue"})
    assert response.json()["errors"] == {"colour": ["Unknown field."]}


def test_a_create_without_hostname_names_hostname(api: Any) -> None:
    response = api.post(SEED, {"name": "New", "connection_parameters": []})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["hostname"]


def test_a_patch_without_an_id_is_refused(api: Any) -> None:
    response = api.post(PATCH, {"connection_parameters": [{"name": "port", "value": 25}]})
    assert response.json()["errors"] == {"id": ["This field is required."]}


def test_a_test_by_id_without_an_id_is_refused(api: Any) -> None:
    response = api.post(TEST_BY_ID, {"to": "a@example.com"})
    assert (response.status_code, list(response.json()["errors"])) == (400, ["id"])


def test_a_test_without_parameters_is_refused(api: Any) -> None:
    response = api.post(TEST, {"to": "a@example.com"})
    assert list(response.json()["errors"]) == ["conn_params"]


def test_a_patch_of_an_unknown_id_is_a_404(api: Any) -> None:
    response = api.post(PATCH, {"id": "999", "connection_parameters": []})
    assert response.status_code == 404
    assert "999" in response.json()["message"]


def test_a_patch_of_an_incoming_connection_is_a_404(api: Any, incoming: Any) -> None:
    response = api.post(PATCH, {"id": incoming.pk, "connection_parameters": []})
    assert response.status_code == 404
    assert "not an SMTP connection" in response.json()["message"]


def test_a_duplicate_name_is_a_409_and_nothing_is_saved(api: Any, outgoing: Any) -> None:
    response = api.post(SEED, create_body(name="OUTGOING"))
    assert response.status_code == 409
    assert response.json()["errors"]["name"] == ["Name must be unique."]
    assert EmailConnection.objects.count() == 1


def test_a_1_mb_body_is_a_413(api: Any) -> None:
    body = create_body({"name": "username", "value": "x" * 1024 * 1024})
    response = api.post(SEED, body)
    assert response.status_code == 413
    assert response.json()["message"] == "The request body is larger than 256 KiB."


def test_a_nul_byte_in_a_parameter_names_the_parameter(api: Any) -> None:
    response = api.post(SEED, create_body({"name": "username", "value": "al\x00ice"}))
    assert response.status_code == 400
    assert response.json()["errors"] == {"username": ["Null characters are not allowed."]}


def test_a_nul_byte_in_a_field_names_the_field(api: Any) -> None:
    response = api.post(SEED, {**create_body(), "name": "Ne\x00w"})
    assert response.json()["errors"] == {"name": ["Null characters are not allowed."]}


def test_a_model_error_is_reported_under_the_parameter_name(api: Any) -> None:
    ssl = {"name": "enable_ssl", "value": True}
    starttls = {"name": "enable_starttls", "value": "true"}
    response = api.post(SEED, create_body(ssl, starttls))
    assert list(response.json()["errors"]) == ["enable_starttls"]


def test_an_unknown_id_in_the_rest_api_is_a_404(api: Any) -> None:
    response = api.get("/api/v1/connections/424242/")
    assert (response.status_code, response.json()["errors"]) == (404, {})


def test_a_wrong_json_type_is_refused_not_coerced(api: Any, outgoing: Any) -> None:
    response = api.patch(f"/api/v1/connections/{outgoing.pk}/", {"smtp_port": "587"})
    assert response.json()["errors"] == {"smtp_port": ["A valid integer is required."]}


def test_a_read_only_field_is_refused(api: Any, outgoing: Any) -> None:
    response = api.patch(f"/api/v1/connections/{outgoing.pk}/", {"uuid": "x"})
    assert response.json()["errors"] == {"uuid": ["Read-only field."]}


def test_an_empty_filter_is_refused(api: Any) -> None:
    response = api.get("/api/v1/connections/?status=")
    assert list(response.json()["errors"]) == ["status"]


def test_put_is_not_allowed(api: Any, outgoing: Any) -> None:
    response = api.call("put", f"/api/v1/connections/{outgoing.pk}/", {"name": "x"})
    assert response.status_code == 405


def test_an_unknown_api_path_answers_json(api: Any) -> None:
    response = api.get("/api/v1/nothing-here/")
    assert (response.status_code, response["Content-Type"]) == (404, "application/json")


def test_too_many_tests_are_a_429(api: Any, outgoing: Any, settings: Any, closed_port: int) -> None:
    settings.MAIL_TEST_RATE = "1/minute"
    body = {"smtp_port": closed_port, "password": "x"}
    api.post(f"/api/v1/connections/{outgoing.pk}/test/", body)
    response = api.post(f"/api/v1/connections/{outgoing.pk}/test/", {})
    assert response.status_code == 429
    assert "Retry-After" in response


@pytest.mark.parametrize(
    "path", ["/api/v1/export/?name=a%00b", "/api/v1/runs/?status=%00", "/api/v1/connections/?x=%00"]
)
def test_a_nul_in_any_api_query_parameter_is_a_json_400_naming_it(api: Any, path: str) -> None:
    response = api.get(path)
    assert response.status_code == 400
    body = response.json()
    assert body["errors"] and all(
        v == ["Null characters are not allowed."] for v in body["errors"].values()
    )


def test_a_time_with_an_offset_postgresql_refuses_is_compared_in_utc(api: Any) -> None:
    response = api.get("/api/v1/runs/?queued_after=0066-10-27T20:10:57-16:17")
    assert response.status_code == 200
    assert api.get("/api/v1/runs/?queued_after=0001-01-01T00:00:00%2B23:00").status_code == 400
