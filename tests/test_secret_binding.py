"""A stored password or OAuth token only ever goes to the server, port and user it was stored
for: every way of saving (page, admin, /api/v1/, the seed API, Restore) holds to it."""

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from connections import crypto, records, versions
from connections.api import writes
from connections.models import PASSWORD_UNBOUND, EmailConnection
from tests.factories import connection_form, make_connection, make_oauth_client, save

pytestmark = pytest.mark.django_db

SEED_PATCH = "/cam/composer/api/v1/smtpconnections/patchConnectionParametersById"
UNBOUND = PASSWORD_UNBOUND.split(" (")[0]


def stored(connection: EmailConnection) -> EmailConnection:
    return EmailConnection.objects.get(pk=connection.pk)


def form_of(connection: EmailConnection, **changes: str) -> dict:
    values = {
        "name": connection.name,
        "smtp_server": connection.smtp_server,
        "smtp_port": str(connection.smtp_port),
        "enable_starttls": None,
        "user_name": connection.user_name,
        "email_address": connection.email_address,
        "password": "",
        "expected_version": str(connection.version),
    }
    return connection_form(**{**values, **changes})


@pytest.mark.parametrize(
    "change",
    [
        {"smtp_server": "evil.example.com"},
        {"smtp_port": "2526"},
        {"user_name": "mallory"},
        {"connection_type": "incoming", "imap_server": "127.0.0.1", "imap_port": "2525"},
    ],
    ids=["host", "port", "user", "type"],
)
def test_a_page_update_moving_the_password_elsewhere_is_refused_at_the_password(
    admin_client_logged: Any, change: dict
) -> None:
    connection = make_connection()
    response = admin_client_logged.post(
        connection.get_absolute_url(), form_of(connection, **change)
    )
    assert response.status_code == 200
    assert UNBOUND in " ".join(response.context["form"].errors["password"])
    after = stored(connection)
    assert after.version == 1
    assert (after.smtp_server, after.smtp_port, after.user_name) == ("127.0.0.1", 2525, "alice")


def test_a_page_update_that_types_the_password_again_may_move_it(admin_client_logged: Any) -> None:
    connection = make_connection()
    data = form_of(connection, smtp_server="smtp.example.net", password="s3cret")
    response = admin_client_logged.post(connection.get_absolute_url(), data)
    assert response.status_code == 302
    after = stored(connection)
    assert after.smtp_server == "smtp.example.net"
    assert after.get_secret("password") == "s3cret"


def test_an_update_that_keeps_the_endpoint_keeps_the_password(admin_client_logged: Any) -> None:
    connection = make_connection()
    data = form_of(connection, description="only the description")
    assert admin_client_logged.post(connection.get_absolute_url(), data).status_code == 302
    after = stored(connection)
    assert after.version == 2
    assert after.get_secret("password") == "s3cret"


def test_the_admin_refuses_to_move_the_password_elsewhere(admin_client_logged: Any) -> None:
    connection = make_connection()
    url = reverse("admin:connections_emailconnection_change", args=[connection.pk])
    data = form_of(connection, smtp_server="evil.example.com")
    data.pop("_save")
    response = admin_client_logged.post(url, data)
    assert response.status_code == 200
    assert UNBOUND in response.content.decode()
    assert stored(connection).smtp_server == "127.0.0.1"


def test_an_api_patch_moving_the_password_elsewhere_is_refused(api: Any, outgoing: Any) -> None:
    response = api.patch(f"/api/v1/connections/{outgoing.pk}/", {"smtp_server": "evil.example"})
    assert response.status_code == 400
    assert UNBOUND in response.json()["errors"]["password"][0]
    assert stored(outgoing).smtp_server == "127.0.0.1"


def test_a_seed_patch_moving_the_password_elsewhere_is_refused(api: Any, outgoing: Any) -> None:
    body = {
        "id": outgoing.pk,
        "connection_parameters": [{"name": "port", "value": 2526}],
    }
    response = api.post(SEED_PATCH, body)
    assert response.status_code == 400
    assert UNBOUND in response.json()["errors"]["password"][0]
    assert stored(outgoing).smtp_port == 25


def test_the_seed_test_by_id_then_goes_only_to_the_stored_server(
    api: Any, operator: Any, smtp_plain: Any, smtp_ssl: Any
) -> None:
    """The attack of the issue: patch the host, then testEmailById. The patch is refused,
    so the test still goes to the server the password was stored for."""
    connection = make_connection(operator, smtp_port=smtp_plain.port)
    moved = {
        "id": connection.pk,
        "connection_parameters": [{"name": "port", "value": smtp_ssl.port}],
    }
    assert api.post(SEED_PATCH, moved).status_code == 400
    response = api.post(
        "/cam/composer/api/v1/smtpconnections/testEmailById",
        {"id": connection.pk, "to": "bob@example.com"},
    )
    assert response.json()["ok"] is True
    assert [m.auth_user for m in smtp_plain.messages] == ["alice"]
    assert smtp_ssl.messages == []


def test_a_restore_that_would_move_the_password_is_refused(operator: Any) -> None:
    connection = make_connection(operator)
    connection.smtp_server = "smtp.example.net"
    connection.set_secret("password", "new-pass")
    connection.full_clean()
    records.save_record(connection, operator)
    with pytest.raises(versions.RestoreRefused, match="type the password again"):
        versions.restore(stored(connection), 1, operator)
    after = stored(connection)
    assert (after.version, after.smtp_server) == (2, "smtp.example.net")


def test_a_password_that_no_longer_applies_is_forgotten_when_the_server_changes(
    operator: Any,
) -> None:
    connection = make_connection(operator)
    connection.authentication = EmailConnection.Auth.NONE
    connection.smtp_server = "relay.example.net"
    connection.full_clean()
    records.save_record(connection, operator)
    after = stored(connection)
    assert not after.has_secret("password")
    # ...so switching back to Password later cannot reuse it for the new server
    after.authentication = EmailConnection.Auth.PASSWORD
    with pytest.raises(ValidationError, match="Required for Password"):
        writes.validate(after)


def authorized(connection: EmailConnection) -> EmailConnection:
    records.save_state(
        connection,
        oauth_authorized=True,
        oauth_account="alice@example.com",
        oauth_access_token_enc=crypto.encrypt("access-token-value"),
        oauth_refresh_token_enc=crypto.encrypt("refresh-token-value"),
        oauth_expires_at=timezone.now(),
    )
    return stored(connection)


@pytest.fixture
def oauth_connection(operator: Any) -> EmailConnection:
    client = make_oauth_client(operator)
    connection = save(
        EmailConnection(
            name="OAuth mailer",
            smtp_server="smtp.office365.com",
            smtp_port=587,
            enable_starttls=True,
            email_address="alice@example.com",
            authentication=EmailConnection.Auth.OAUTH2,
            user_name="alice@example.com",
            oauth_client=client,
        ),
        operator,
    )
    return authorized(connection)


@pytest.mark.parametrize(
    "change",
    [
        {"user_name": "mallory@example.com"},
        {"smtp_server": "smtp.example.net"},
        {"smtp_port": 2525},
        {"oauth_client": "other"},
    ],
    ids=["user", "server", "port", "oauth client"],
)
def test_an_update_moving_the_tokens_elsewhere_forgets_them(
    operator: Any, oauth_connection: EmailConnection, change: dict
) -> None:
    if change.get("oauth_client") == "other":
        change = {"oauth_client": make_oauth_client(operator, name="Other client")}
    for name, value in change.items():
        setattr(oauth_connection, name, value)
    oauth_connection.full_clean()
    records.save_record(oauth_connection, operator)
    after = stored(oauth_connection)
    assert not after.oauth_authorized
    assert not after.has_secret("oauth_access_token")
    assert not after.has_secret("oauth_refresh_token")
    assert after.oauth_account == ""


def test_an_update_of_other_settings_keeps_the_tokens(
    operator: Any, oauth_connection: EmailConnection
) -> None:
    oauth_connection.description = "renamed the purpose"
    records.save_record(oauth_connection, operator)
    after = stored(oauth_connection)
    assert after.oauth_authorized
    assert after.get_secret("oauth_refresh_token") == "refresh-token-value"


def test_an_update_never_writes_back_tokens_rotated_since_the_record_was_read(
    operator: Any, oauth_connection: EmailConnection
) -> None:
    editing = stored(oauth_connection)  # an editor opens the record...
    # ...while the worker refreshes its tokens (a rotated refresh token)
    records.save_state(
        stored(oauth_connection), oauth_refresh_token_enc=crypto.encrypt("rotated-refresh-token")
    )
    editing.description = "edited meanwhile"
    records.save_record(editing, operator)
    assert stored(oauth_connection).get_secret("oauth_refresh_token") == "rotated-refresh-token"


def test_a_test_that_only_changes_the_type_does_not_send_the_stored_password(
    admin_client_logged: Any, smtp_plain: Any
) -> None:
    """Same host, port and user, but read as a mailbox: still another endpoint."""
    connection = make_connection(smtp_port=smtp_plain.port)
    data = form_of(
        connection,
        connection_type="incoming",
        imap_server="127.0.0.1",
        imap_port=str(smtp_plain.port),
    )
    url = reverse("connections:emailconnection-test", args=[connection.pk])
    response = admin_client_logged.post(url, data)
    assert "Type changed: type the password again" in response.content.decode()
    assert "report" not in response.context


def test_a_failed_test_is_summed_up_in_words(admin_client_logged: Any, closed_port: int) -> None:
    connection = make_connection(smtp_port=closed_port)
    url = reverse("connections:emailconnection-test", args=[connection.pk])
    admin_client_logged.post(url, form_of(connection))
    summary = stored(connection).last_test_summary
    assert summary.startswith("TCP connect: Nothing is listening"), summary
