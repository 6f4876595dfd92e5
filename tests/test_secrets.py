from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection as db
from django.urls import reverse

from connections import crypto
from connections.models import EmailConnection
from tests.factories import connection_form, make_connection, make_oauth_client, text

pytestmark = pytest.mark.django_db

PASSWORD = "Plaintext-Pa55word-4242"
CLIENT_SECRET = "Client-Secret-Plain-9191"


def raw_database_bytes(tmp_path: Path) -> bytes:
    """The database as it lies on disk (the in-memory test database copied to a file)."""
    if db.vendor != "sqlite":
        pytest.skip("reads the SQLite file")
    path = tmp_path / "copy.sqlite3"
    with db.cursor() as cursor:
        cursor.execute("VACUUM INTO %s", [str(path)])
    return path.read_bytes()


@pytest.mark.django_db(transaction=True)
def test_no_plaintext_secret_is_in_the_database_file(
    admin_client_logged: object, tmp_path: Path
) -> None:
    admin_client_logged.post(
        reverse("connections:emailconnection-new"), connection_form(password=PASSWORD)
    )
    make_oauth_client(secret=CLIENT_SECRET)
    raw = raw_database_bytes(tmp_path)
    assert EmailConnection.objects.get().get_secret("password") == PASSWORD
    assert PASSWORD.encode() not in raw
    assert CLIENT_SECRET.encode() not in raw


def test_history_keeps_neither_plaintext_nor_ciphertext(tmp_path: Path) -> None:
    connection = make_connection(password=PASSWORD)
    history_row = connection.history.values().get()
    assert "password_enc" not in history_row
    assert PASSWORD not in str(history_row)
    assert connection.password_enc not in str(history_row)


def test_a_password_change_is_a_version_without_the_value(admin_client_logged: object) -> None:
    connection = make_connection(password=PASSWORD)
    data = connection_form(
        name="Mailer",
        smtp_server="127.0.0.1",
        smtp_port="2525",
        user_name="alice",
        password="A-new-password-77",
        expected_version="1",
    )
    admin_client_logged.post(connection.get_absolute_url(), data)
    connection.refresh_from_db()
    assert connection.version == 2
    versions_url = reverse("connections:emailconnection-versions", args=[connection.pk])
    page = text(admin_client_logged.get(versions_url))
    assert "Password" in page
    assert "A-new-password-77" not in page
    assert PASSWORD not in page


def test_typing_the_same_password_again_is_no_change(admin_client_logged: object) -> None:
    connection = make_connection(password=PASSWORD)
    data = connection_form(
        name="Mailer",
        smtp_server="127.0.0.1",
        smtp_port="2525",
        user_name="alice",
        password=PASSWORD,
        enable_starttls=None,
        email_address="robot@example.com",
        expected_version="1",
    )
    response = admin_client_logged.post(connection.get_absolute_url(), data, follow=True)
    assert "No changes" in text(response)
    connection.refresh_from_db()
    assert connection.version == 1


def test_secrets_survive_a_key_rotation(settings: object) -> None:
    connection = make_connection(password=PASSWORD)
    old_key = settings.FIELD_ENCRYPTION_KEYS[0]
    settings.FIELD_ENCRYPTION_KEYS = [crypto.Fernet.generate_key().decode(), old_key]
    call_command("rotate_encryption_keys")
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]
    connection.refresh_from_db()
    assert connection.get_secret("password") == PASSWORD


def test_a_secret_under_an_unknown_key_is_reported_not_crashed(settings: object) -> None:
    connection = make_connection(password=PASSWORD)
    settings.FIELD_ENCRYPTION_KEYS = [crypto.Fernet.generate_key().decode()]
    connection.refresh_from_db()
    with pytest.raises(crypto.SecretUnreadable):
        connection.get_secret("password")


def test_the_admin_shows_no_secret(admin_client_logged: object) -> None:
    connection = make_connection(password=PASSWORD)
    client_record = make_oauth_client(secret=CLIENT_SECRET)
    pages = [
        admin_client_logged.get(
            reverse("admin:connections_emailconnection_change", args=[connection.pk])
        ),
        admin_client_logged.get(
            reverse("admin:connections_oauthclient_change", args=[client_record.pk])
        ),
        admin_client_logged.get(
            reverse("admin:connections_emailconnection_history", args=[connection.pk])
        ),
    ]
    for page in pages:
        body = text(page)
        assert page.status_code == 200
        for secret in (PASSWORD, CLIENT_SECRET, connection.password_enc):
            assert secret not in body
    assert client_record.client_secret_enc not in text(pages[1])
