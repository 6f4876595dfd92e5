"""The automation manager's SMTP connections API, replayed from its documentation.

Every request carries a real token from /o/token/ (client credentials); tests talk to the
aiosmtpd servers on 127.0.0.1.
"""

from typing import Any

import pytest

from connections.models import BusinessService, EmailConnection

pytestmark = pytest.mark.django_db

SEED = "/cam/api/v1/smtpconnections"
COMPOSER = "/cam/composer/api/v1/smtpconnections"
QUERY = "tenantId=t-1&ace_orgGuid=all&cloudOE_spaceGuid=space-1"

# cc_create.json, exactly as documented
CC_CREATE = {
    "name": "SECONDARY",
    "connection_parameters": [
        {"name": "hostname", "value": "test"},
        {"name": "port", "value": 25},
        {"name": "username", "value": "test"},
        {"name": "password", "value": "test"},
    ],
}


def parameters(body: dict[str, Any]) -> dict[str, Any]:
    return {p["name"]: p["value"] for p in body["connection_parameters"]}


def test_the_documented_create_body_creates_an_outgoing_connection(api: Any) -> None:
    response = api.post(f"{SEED}?{QUERY}", CC_CREATE)
    assert response.status_code == 201
    assert EmailConnection.objects.get(name="SECONDARY").is_outgoing


def test_a_created_connection_shows_its_parameters_and_metadata(api: Any) -> None:
    body = api.post(f"{SEED}?{QUERY}", CC_CREATE).json()
    assert parameters(body) == {
        "hostname": "test",
        "port": 25,
        "username": "test",
        "email_address": "test@localhost",
        "enable_ssl": False,
        "enable_starttls": False,
        "authentication": "password",
        "system_connection": False,
        "password_set": True,
    }
    assert (body["version"], body["created_by"], body["updated_by"]) == (1, "operator", "operator")


def test_the_password_is_stored_encrypted_and_never_returned(api: Any) -> None:
    body = {
        "name": "Secretive",
        "connection_parameters": [
            {"name": "hostname", "value": "smtp.example.com"},
            {"name": "username", "value": "alice"},
            {"name": "password", "value": "Plain-Text-Pa55"},
        ],
    }
    created = api.post(SEED, body)
    listed = api.get(SEED)
    stored = EmailConnection.objects.get(name="Secretive")
    assert stored.get_secret("password") == "Plain-Text-Pa55"
    assert "Plain-Text-Pa55" not in created.content.decode() + listed.content.decode()


def test_the_list_shows_smtp_connections_only(api: Any, outgoing: Any, incoming: Any) -> None:
    response = api.get(f"{SEED}?{QUERY}")
    assert response.status_code == 200
    assert [c["name"] for c in response.json()] == ["Outgoing"]


def test_a_connection_is_read_by_id(api: Any, outgoing: Any) -> None:
    response = api.get(f"{SEED}/{outgoing.pk}?{QUERY}")
    assert response.status_code == 200
    assert parameters(response.json())["hostname"] == "127.0.0.1"


def test_a_connection_is_read_by_uuid(api: Any, outgoing: Any) -> None:
    response = api.get(f"{SEED}/{outgoing.uuid}")
    assert response.json()["id"] == outgoing.pk


def test_an_incoming_connection_is_not_an_smtp_connection(api: Any, incoming: Any) -> None:
    response = api.get(f"{SEED}/{incoming.pk}")
    assert response.status_code == 404
    assert "not an SMTP connection" in response.json()["message"]


def test_the_documented_patch_changes_only_the_named_parameters(api: Any, outgoing: Any) -> None:
    body = {
        "id": str(outgoing.pk),
        "connection_parameters": [
            {"name": "port", "value": 587},
            {"name": "password", "value": "my-new-password"},
        ],
    }
    response = api.post(f"{COMPOSER}/patchConnectionParametersById?{QUERY}", body)
    assert response.status_code == 200
    outgoing.refresh_from_db()
    assert (outgoing.smtp_port, outgoing.smtp_server, outgoing.user_name) == (
        587,
        "127.0.0.1",
        "alice",
    )
    assert outgoing.get_secret("password") == "my-new-password"


def test_a_patch_makes_a_new_version_by_the_tokens_user(api: Any, outgoing: Any) -> None:
    parameters = [{"name": "email_address", "value": "bob@example.com"}]
    body = {"id": outgoing.pk, "connection_parameters": parameters}
    response = api.post(f"{COMPOSER}/patchConnectionParametersById", body)
    assert (response.json()["version"], response.json()["updated_by"]) == (2, "operator")


def test_the_patch_the_seed_documents_without_a_token_is_refused(
    client: Any, outgoing: Any
) -> None:
    body = {"id": outgoing.pk, "connection_parameters": [{"name": "port", "value": 587}]}
    response = client.post(
        f"{COMPOSER}/patchConnectionParametersById?{QUERY}", body, content_type="application/json"
    )
    assert response.status_code == 401


def test_delete_removes_the_connection(api: Any, outgoing: Any) -> None:
    assert api.delete(f"{SEED}/{outgoing.pk}?{QUERY}").status_code == 204
    assert api.get(f"{SEED}/{outgoing.pk}").status_code == 404


def test_test_email_sends_a_mail_with_the_given_parameters(api: Any, smtp_plain: Any) -> None:
    body = {
        "to": "bob@example.com",
        "conn_params": [
            {"name": "hostname", "value": smtp_plain.host},
            {"name": "port", "value": str(smtp_plain.port)},  # a string, as documented
            {"name": "username", "value": smtp_plain.user},
            {"name": "password", "value": smtp_plain.password},
        ],
    }
    response = api.post(f"{COMPOSER}/testEmail?ace_orgGuid=all&tenantId=t-1", body)
    assert response.status_code == 200
    assert (response.json()["ok"], response.json()["sent"]) == (True, True)
    assert smtp_plain.messages[0].rcpt_tos == ["bob@example.com"]


def test_test_email_reports_every_stage(api: Any, smtp_plain: Any) -> None:
    body = {
        "conn_params": [
            {"name": "hostname", "value": smtp_plain.host},
            {"name": "port", "value": smtp_plain.port},
            {"name": "username", "value": smtp_plain.user},
            {"name": "password", "value": smtp_plain.password},
        ]
    }
    stages = api.post(f"{COMPOSER}/testEmail", body).json()["stages"]
    assert [s["name"] for s in stages][:2] == ["dns", "connect"]
    assert all(s["status"] in ("ok", "skipped") for s in stages)


def test_test_email_never_returns_the_password(api: Any, smtp_plain: Any) -> None:
    body = {
        "conn_params": [
            {"name": "hostname", "value": smtp_plain.host},
            {"name": "port", "value": smtp_plain.port},
            {"name": "username", "value": smtp_plain.user},
            {"name": "password", "value": "wrong-Secret-42"},
        ]
    }
    response = api.post(f"{COMPOSER}/testEmail", body)
    assert response.json()["ok"] is False
    assert "wrong-Secret-42" not in response.content.decode()


def stored_at(connection: EmailConnection, server: Any) -> EmailConnection:
    connection.smtp_server, connection.smtp_port = server.host, server.port
    connection.save()
    return connection


def test_test_email_by_id_uses_the_stored_password(
    api: Any, outgoing: Any, smtp_plain: Any
) -> None:
    stored_at(outgoing, smtp_plain)
    body = {"id": str(outgoing.pk), "to": "my-test-email@test.xyz.net"}
    response = api.post(f"{COMPOSER}/testEmailById?{QUERY}", body)
    assert response.json()["ok"] is True
    assert smtp_plain.messages[0].rcpt_tos == ["my-test-email@test.xyz.net"]


def test_test_email_by_id_with_the_documented_overrides_tests_them_unsaved(
    api: Any, outgoing: Any, smtp_plain: Any, smtp_starttls: Any, ca_trusted: str
) -> None:
    stored_at(outgoing, smtp_plain)
    body = {
        "id": str(outgoing.pk),
        "to": "my-test-email@test.xyz.net",
        "conn_params": [
            {"name": "port", "value": smtp_starttls.port},
            {"name": "enable_starttls", "value": True},
            {"name": "password", "value": smtp_starttls.password},
        ],
    }
    response = api.post(f"{COMPOSER}/testEmailById?{QUERY}", body)
    assert response.json()["ok"] is True
    outgoing.refresh_from_db()
    assert (outgoing.smtp_port, outgoing.enable_starttls) == (smtp_plain.port, False)


def test_test_email_by_id_to_another_port_needs_the_password_again(
    api: Any, outgoing: Any, smtp_plain: Any, smtp_starttls: Any
) -> None:
    stored_at(outgoing, smtp_plain)
    body = {"id": outgoing.pk, "conn_params": [{"name": "port", "value": smtp_starttls.port}]}
    response = api.post(f"{COMPOSER}/testEmailById", body)
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["password"]


def test_ace_org_guid_lists_one_business_services_connections(
    api: Any, outgoing: Any, operator: Any
) -> None:
    service = BusinessService.objects.create(name="Accounting")
    service.users.add(operator)
    outgoing.business_services.add(service)
    EmailConnection.objects.create(name="Other", smtp_server="h", email_address="a@b.example")
    names = [c["name"] for c in api.get(f"{SEED}?ace_orgGuid=accounting").json()]
    assert names == ["Outgoing"]


def test_ace_org_guid_on_create_makes_the_connection_a_member(api: Any, operator: Any) -> None:
    service = BusinessService.objects.create(name="Accounting")
    service.users.add(operator)
    response = api.post(f"{SEED}?ace_orgGuid=Accounting", CC_CREATE)
    assert response.json()["business_services"] == ["Accounting"]


def test_ace_org_guid_of_a_service_you_are_not_in_is_refused_on_create(api: Any) -> None:
    BusinessService.objects.create(name="Payroll")
    response = api.post(f"{SEED}?ace_orgGuid=Payroll", CC_CREATE)
    assert response.status_code == 403
    assert not EmailConnection.objects.filter(name="SECONDARY").exists()


def test_an_unknown_ace_org_guid_is_a_404(api: Any) -> None:
    assert api.get(f"{SEED}?ace_orgGuid=Nowhere").status_code == 404
