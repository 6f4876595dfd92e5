"""The API's part of Authorize: the authorization state, the start URL, Disconnect."""

from datetime import timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from connections import crypto
from connections.models import EmailConnection
from connections.records import save_state
from tests.factories import make_connection, make_oauth_client

pytestmark = pytest.mark.django_db

CONNECTIONS = "/api/v1/connections/"


def oauth_connection(user: Any = None, **values: Any) -> EmailConnection:
    client = make_oauth_client(
        provider="custom",
        client_id="local-app",
        authorization_endpoint="https://id.example.com/authorize",
        token_endpoint="https://id.example.com/token",
        scopes="openid email smtp",
    )
    return make_connection(
        user,
        name="Mailbox",
        authentication=EmailConnection.Auth.OAUTH2,
        oauth_client=client,
        user_name="mailbox@example.com",
        **values,
    )


def authorize(connection: EmailConnection, **values: Any) -> None:
    save_state(
        connection,
        oauth_authorized=True,
        oauth_account="mailbox@example.com",
        oauth_scopes="openid smtp",
        oauth_access_token_enc=crypto.encrypt("secret-access-token"),
        oauth_refresh_token_enc=crypto.encrypt("secret-refresh-token"),
        oauth_expires_at=timezone.now() + timedelta(hours=1),
        oauth_authorized_at=timezone.now(),
        **values,
    )


def test_a_connection_shows_its_authorization_state_but_never_a_token(api: Any) -> None:
    connection = oauth_connection()
    authorize(connection)
    response = api.get(f"{CONNECTIONS}{connection.pk}/")
    body = response.json()
    assert body["oauth_authorized"] is True
    assert body["oauth_account"] == "mailbox@example.com"
    assert body["oauth_authorized_at"]
    assert body["oauth_needs_reauth"] is False
    assert body["oauth_missing_scopes"] == ["email"]
    assert "secret-access-token" not in response.content.decode()
    assert "secret-refresh-token" not in response.content.decode()


def test_reauthorization_needed_is_the_status_and_a_filter(api: Any) -> None:
    connection = oauth_connection()
    authorize(connection, oauth_needs_reauth=True, oauth_last_error="invalid_grant: revoked")
    make_connection(name="Plain")
    body = api.get(f"{CONNECTIONS}{connection.pk}/").json()
    assert body["status"] == "reauthorize"
    assert body["oauth_last_error"] == "invalid_grant: revoked"
    listed = api.get(CONNECTIONS, data={"status": "reauthorize"}).json()["results"]
    assert [c["name"] for c in listed] == ["Mailbox"]


def test_authorize_answers_the_absolute_url_of_the_authorize_page(
    api: Any, operator: Any, client: Any
) -> None:
    connection = oauth_connection()
    response = api.post(f"{CONNECTIONS}{connection.pk}/authorize/", {})
    assert response.status_code == 200
    url = response.json()["authorize_url"]
    assert url == f"http://testserver/connections/{connection.pk}/authorize/"
    client.force_login(operator)
    page = client.get(url.removeprefix("http://testserver")).content.decode()
    assert 'id="authorize-button"' in page


def test_authorize_uses_public_base_url_when_set(api: Any, settings: Any) -> None:
    settings.PUBLIC_BASE_URL = "https://console.example.com"
    connection = oauth_connection()
    url = api.post(f"{CONNECTIONS}{connection.pk}/authorize/", {}).json()["authorize_url"]
    assert url == f"https://console.example.com/connections/{connection.pk}/authorize/"


def test_authorize_of_a_password_connection_is_a_400(api: Any) -> None:
    connection = make_connection()
    response = api.post(f"{CONNECTIONS}{connection.pk}/authorize/", {})
    assert response.status_code == 400
    assert "does not use OAuth 2.0" in response.json()["message"]


def test_authorize_needs_the_write_scope_and_the_authorize_permission(
    api_as: Any, operator: Any
) -> None:
    connection = oauth_connection()
    reader = api_as(operator, scope="read")
    assert reader.post(f"{CONNECTIONS}{connection.pk}/authorize/", {}).status_code == 403
    operator.user_permissions.remove(Permission.objects.get(codename="authorize_emailconnection"))
    writer = api_as(operator, scope="read write")
    response = writer.post(f"{CONNECTIONS}{connection.pk}/disconnect/", {})
    assert response.status_code == 403
    assert "authorize_emailconnection" in response.json()["message"]


def test_disconnect_forgets_the_tokens(api: Any) -> None:
    connection = oauth_connection()
    authorize(connection)
    response = api.post(f"{CONNECTIONS}{connection.pk}/disconnect/", {})
    assert response.status_code == 200
    assert response.json() == {
        "message": 'Email Connection "Mailbox" disconnected: tokens forgotten.',
        "warning": "",
    }
    stored = EmailConnection.objects.get(pk=connection.pk)
    assert not stored.oauth_authorized
    assert stored.oauth_access_token_enc == stored.oauth_refresh_token_enc == ""


def test_the_schema_describes_authorize_and_disconnect(api: Any, client: Any) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    authorize = schema["paths"]["/api/v1/connections/{id}/authorize/"]["post"]
    answer = authorize["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    name = answer.rsplit("/", 1)[1]
    assert "authorize_url" in schema["components"]["schemas"][name]["properties"]
    assert "/api/v1/connections/{id}/disconnect/" in schema["paths"]
