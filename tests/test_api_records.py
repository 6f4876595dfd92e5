"""The REST API under /api/v1/: the four record types, versions, tests, scoping, secrets."""

from typing import Any

import pytest
from django.contrib.auth.models import Permission

from connections import records
from connections.models import BusinessService, EmailConnection, EmailTemplate, OAuthClient

pytestmark = pytest.mark.django_db

CONNECTIONS = "/api/v1/connections/"
NEW_CONNECTION = {
    "name": "Relay",
    "smtp_server": "smtp.example.com",
    "smtp_port": 587,
    "enable_starttls": True,
    "email_address": "noreply@example.com",
    "user_name": "relay",
    "password": "Relay-Pa55",
}


def template_on(connection: EmailConnection, user: Any, name: str = "Invoices") -> Any:
    template = EmailTemplate(name=name, connection=connection, to="a@example.com", body="Hi")
    return records.save_record(template, user).record


def test_a_connection_is_created(api: Any) -> None:
    response = api.post(CONNECTIONS, NEW_CONNECTION)
    assert response.status_code == 201
    assert EmailConnection.objects.get(name="Relay").smtp_port == 587


def test_a_created_connection_says_a_password_is_set_without_showing_it(api: Any) -> None:
    body = api.post(CONNECTIONS, NEW_CONNECTION).json()
    assert body["password_set"] is True
    assert "password" not in body


def test_no_response_ever_contains_the_password(api: Any) -> None:
    created = api.post(CONNECTIONS, NEW_CONNECTION).json()
    path = f"{CONNECTIONS}{created['id']}/"
    bodies = [
        api.get(CONNECTIONS).content,
        api.get(path).content,
        api.patch(path, {"password": "Relay-Pa55-new"}).content,
        api.get(f"{path}versions/").content,
    ]
    assert not any(b"Relay-Pa55" in body for body in bodies)


def test_password_authentication_needs_a_password_on_create(api: Any) -> None:
    response = api.post(CONNECTIONS, {**NEW_CONNECTION, "password": ""})
    assert response.status_code == 400
    assert response.json()["errors"] == {"password": ["Required for Password authentication."]}


def test_a_blank_password_keeps_the_stored_one(api: Any, outgoing: Any) -> None:
    api.patch(f"{CONNECTIONS}{outgoing.pk}/", {"password": "", "smtp_port": 2525})
    outgoing.refresh_from_db()
    assert outgoing.get_secret("password") == "s3cret"


def test_the_models_rules_apply_to_the_api(api: Any) -> None:
    response = api.post(CONNECTIONS, {**NEW_CONNECTION, "enable_ssl": True})
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["enable_starttls"]


def test_the_list_is_paginated(api: Any, outgoing: Any) -> None:
    body = api.get(CONNECTIONS).json()
    assert (body["count"], [c["name"] for c in body["results"]]) == (1, ["Outgoing"])


def test_the_list_filters_by_type(api: Any, outgoing: Any, incoming: Any) -> None:
    body = api.get(f"{CONNECTIONS}?connection_type=incoming").json()
    assert [c["name"] for c in body["results"]] == ["Mailbox"]


def test_the_list_filters_by_status(api: Any, outgoing: Any, incoming: Any) -> None:
    records.save_state(incoming, last_test_ok=False)
    body = api.get(f"{CONNECTIONS}?status=failing").json()
    assert [c["name"] for c in body["results"]] == ["Mailbox"]


def test_the_list_filters_by_business_service(
    api: Any, outgoing: Any, incoming: Any, operator: Any
) -> None:
    service = BusinessService.objects.create(name="Accounting")
    service.users.add(operator)
    incoming.business_services.add(service)
    body = api.get(f"{CONNECTIONS}?business_services={service.pk}").json()
    assert [c["name"] for c in body["results"]] == ["Mailbox"]


def test_the_list_searches_names_and_servers(api: Any, outgoing: Any, incoming: Any) -> None:
    body = api.get(f"{CONNECTIONS}?search=mailb").json()
    assert [c["name"] for c in body["results"]] == ["Mailbox"]


def test_a_patch_changes_only_the_fields_given(api: Any, outgoing: Any) -> None:
    # (a port change would need the password again: tests/test_secret_binding.py)
    response = api.patch(f"{CONNECTIONS}{outgoing.pk}/", {"email_address": "bob@example.com"})
    assert (response.json()["email_address"], response.json()["smtp_server"]) == (
        "bob@example.com",
        "127.0.0.1",
    )


def test_a_patch_with_the_current_version_is_saved(api: Any, outgoing: Any) -> None:
    response = api.patch(f"{CONNECTIONS}{outgoing.pk}/", {"description": "x", "version": 1})
    assert (response.status_code, response.json()["version"]) == (200, 2)


def test_a_patch_with_a_stale_version_is_a_conflict_and_saves_nothing(
    api: Any, outgoing: Any
) -> None:
    api.patch(f"{CONNECTIONS}{outgoing.pk}/", {"description": "first"})
    response = api.patch(f"{CONNECTIONS}{outgoing.pk}/", {"description": "late", "version": 1})
    outgoing.refresh_from_db()
    assert response.status_code == 409
    assert (outgoing.smtp_port, outgoing.version) == (25, 2)


def test_history_of_an_api_change_names_the_tokens_user(
    api_as: Any, outgoing: Any, django_user_model: Any
) -> None:
    owner = django_user_model.objects.create_user("scripts-owner")
    owner.user_permissions.set(Permission.objects.filter(content_type__app_label="connections"))
    api_as(owner).patch(f"{CONNECTIONS}{outgoing.pk}/", {"smtp_port": 2525, "password": "s3cret"})
    assert outgoing.history.latest("history_id").history_user == owner


def test_versions_list_number_date_user_and_changed_fields(api: Any, outgoing: Any) -> None:
    api.patch(f"{CONNECTIONS}{outgoing.pk}/", {"smtp_port": 2525, "password": "new-one"})
    newest = api.get(f"{CONNECTIONS}{outgoing.pk}/versions/").json()["results"][0]
    assert (newest["number"], newest["user"], newest["kind"]) == (2, "operator", "Changed")
    assert sorted(newest["changed"]) == ["Password", "SMTP Port"]


def test_a_connection_in_use_is_not_deleted_and_its_users_are_named(
    api: Any, outgoing: Any, operator: Any
) -> None:
    template_on(outgoing, operator)
    response = api.delete(f"{CONNECTIONS}{outgoing.pk}/")
    assert response.status_code == 409
    assert response.json()["errors"] == {"used_by": ['Email Template "Invoices"']}


def test_an_unused_connection_is_deleted(api: Any, outgoing: Any) -> None:
    assert api.delete(f"{CONNECTIONS}{outgoing.pk}/").status_code == 204
    assert not EmailConnection.objects.filter(pk=outgoing.pk).exists()


def test_a_duplicate_name_is_a_conflict(api: Any, outgoing: Any) -> None:
    response = api.post(CONNECTIONS, {**NEW_CONNECTION, "name": "outgoing"})
    assert response.status_code == 409
    assert response.json()["errors"]["name"] == ["Name must be unique."]


def test_a_second_system_connection_is_a_conflict_naming_the_first(api: Any, outgoing: Any) -> None:
    api.patch(f"{CONNECTIONS}{outgoing.pk}/", {"system_connection": True})
    response = api.post(CONNECTIONS, {**NEW_CONNECTION, "system_connection": True})
    assert response.status_code == 409
    assert "Outgoing" in response.json()["errors"]["system_connection"][0]


def test_a_stored_connection_is_tested_with_its_stored_password(
    api: Any, outgoing: Any, smtp_plain: Any
) -> None:
    api.patch(f"{CONNECTIONS}{outgoing.pk}/", {"smtp_port": smtp_plain.port, "password": "s3cret"})
    response = api.post(f"{CONNECTIONS}{outgoing.pk}/test/", {})
    assert (response.status_code, response.json()["ok"]) == (200, True)


def test_a_test_with_a_recipient_sends_a_mail(api: Any, outgoing: Any, smtp_plain: Any) -> None:
    api.patch(f"{CONNECTIONS}{outgoing.pk}/", {"smtp_port": smtp_plain.port, "password": "s3cret"})
    api.post(f"{CONNECTIONS}{outgoing.pk}/test/", {"recipient": "bob@example.com"})
    assert smtp_plain.messages[0].rcpt_tos == ["bob@example.com"]


def test_a_test_with_overrides_does_not_save_them(
    api: Any, outgoing: Any, smtp_ssl: Any, ca_trusted: str
) -> None:
    body = {"smtp_port": smtp_ssl.port, "enable_ssl": True, "password": smtp_ssl.password}
    response = api.post(f"{CONNECTIONS}{outgoing.pk}/test/", body)
    outgoing.refresh_from_db()
    assert response.json()["ok"] is True
    assert (outgoing.smtp_port, outgoing.enable_ssl) == (25, False)


def test_a_test_sending_the_stored_password_elsewhere_is_refused(
    api: Any, outgoing: Any, smtp_plain: Any
) -> None:
    response = api.post(f"{CONNECTIONS}{outgoing.pk}/test/", {"smtp_port": smtp_plain.port})
    assert response.status_code == 400
    assert "password" in response.json()["errors"]


def test_an_incoming_connection_is_tested_over_imap(
    api: Any, incoming: Any, imap_server: Any
) -> None:
    body = {"imap_port": imap_server.port, "password": imap_server.password}
    response = api.post(f"{CONNECTIONS}{incoming.pk}/test/", body)
    assert (response.json()["protocol"], response.json()["ok"]) == ("imap", True)


def test_a_template_is_created_on_an_outgoing_connection(api: Any, outgoing: Any) -> None:
    body = {"name": "Invoices", "connection": outgoing.pk, "to": "a@example.com", "body": "Hi"}
    response = api.post("/api/v1/templates/", body)
    assert (response.status_code, response.json()["connection"]) == (201, outgoing.pk)


def test_a_template_on_an_incoming_connection_is_refused(api: Any, incoming: Any) -> None:
    body = {"name": "Invoices", "connection": incoming.pk, "to": "a@example.com", "body": "Hi"}
    response = api.post("/api/v1/templates/", body)
    assert list(response.json()["errors"]) == ["connection"]


def test_an_oauth_client_secret_is_write_only(api: Any) -> None:
    body = {"name": "M365", "client_id": "abc", "client_secret": "Client-S3cret"}
    response = api.post("/api/v1/oauth-clients/", body)
    assert response.json()["client_secret_set"] is True
    assert b"Client-S3cret" not in response.content


def test_an_oauth_clients_provider_cannot_change(api: Any) -> None:
    created = api.post("/api/v1/oauth-clients/", {"name": "M365", "client_id": "abc"}).json()
    response = api.patch(f"/api/v1/oauth-clients/{created['id']}/", {"provider": "google"})
    assert response.status_code == 400
    assert OAuthClient.objects.get().provider == "microsoft"


def test_an_oauth_client_in_use_is_not_deleted(api: Any, operator: Any) -> None:
    client = records.save_record(OAuthClient(name="M365", client_id="abc"), operator).record
    connection = EmailConnection(
        name="OAuth",
        smtp_server="smtp.office365.com",
        email_address="a@example.com",
        authentication="oauth2",
        user_name="a@example.com",
        oauth_client=client,
    )
    records.save_record(connection, operator)
    assert api.delete(f"/api/v1/oauth-clients/{client.pk}/").status_code == 409


def test_a_business_service_lists_its_members_by_name(api: Any, operator: Any) -> None:
    body = {"name": "Accounting", "users": ["operator"]}
    response = api.post("/api/v1/business-services/", body)
    assert response.json()["users"] == ["operator"]


def test_another_teams_record_is_not_found(api: Any, outgoing: Any) -> None:
    outgoing.business_services.add(BusinessService.objects.create(name="Payroll"))
    assert api.get(f"{CONNECTIONS}{outgoing.pk}/").status_code == 404


def test_another_teams_record_is_not_listed(api: Any, outgoing: Any) -> None:
    outgoing.business_services.add(BusinessService.objects.create(name="Payroll"))
    assert api.get(CONNECTIONS).json()["count"] == 0


def test_a_member_sees_the_records_of_their_service(api: Any, outgoing: Any, operator: Any) -> None:
    service = BusinessService.objects.create(name="Payroll")
    service.users.add(operator)
    outgoing.business_services.add(service)
    assert api.get(f"{CONNECTIONS}{outgoing.pk}/").status_code == 200


def test_only_services_you_are_a_member_of_can_be_assigned(api: Any, outgoing: Any) -> None:
    service = BusinessService.objects.create(name="Payroll")
    response = api.patch(f"{CONNECTIONS}{outgoing.pk}/", {"business_services": [service.pk]})
    assert response.status_code == 404
    assert list(response.json()["errors"]) == ["business_services"]


def test_your_own_services_can_be_assigned(api: Any, outgoing: Any, operator: Any) -> None:
    service = BusinessService.objects.create(name="Payroll")
    service.users.add(operator)
    response = api.patch(f"{CONNECTIONS}{outgoing.pk}/", {"business_services": [service.pk]})
    assert response.json()["business_services"] == [service.pk]


def test_the_health_check_and_extra_recipients_are_set_through_the_api(
    api: Any, outgoing: Any
) -> None:
    body = {"health_check": "15", "notify_addresses": "ops@example.com; oncall@example.com"}
    response = api.patch(f"{CONNECTIONS}{outgoing.pk}/", body)
    assert response.status_code == 200, response.content
    assert response.json()["health_check"] == "15"
    assert response.json()["notify_addresses"] == "ops@example.com, oncall@example.com"


def test_extra_recipients_that_are_not_addresses_are_refused_naming_the_field(
    api: Any, outgoing: Any
) -> None:
    response = api.patch(f"{CONNECTIONS}{outgoing.pk}/", {"notify_addresses": "not an address"})
    assert response.status_code == 400
    assert "notify_addresses" in response.json()["errors"]
