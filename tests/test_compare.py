"""Compare and the version page: only the fields that apply, secrets shown the same way."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection as django_connection
from django.urls import reverse

from connections import records
from connections.models import EmailConnection
from tests.factories import make_connection, text

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent


def url(name: str, *args: object) -> str:
    return reverse(f"connections:emailconnection-{name}", args=args)


def update(connection: EmailConnection, user: object, **values: object) -> EmailConnection:
    connection = EmailConnection.objects.get(pk=connection.pk)
    connection.set_secret("password", values.pop("password", ""))
    for name, value in values.items():
        setattr(connection, name, value)
    connection.full_clean()
    records.save_record(connection, user)
    return connection


def compared(client: object, connection: EmailConnection, a: int, b: int) -> dict:
    response = client.get(url("compare", connection.pk), {"v": [str(a), str(b)]})
    assert response.status_code == 200
    return {f.label: f for f in response.context["fields"]}


def test_compare_leaves_out_the_imap_fields_of_an_outgoing_connection(
    admin_client_logged: object, admin_user: object
) -> None:
    connection = make_connection(admin_user)
    update(connection, admin_user, description="second")
    fields = compared(admin_client_logged, connection, 1, 2)
    assert "SMTP Port" in fields
    assert "System Connection" in fields
    assert "Incoming Mail Server (IMAP)" not in fields
    assert "IMAP Port" not in fields
    assert "Trash Folder" not in fields
    assert "OAuth Client" not in fields


def test_compare_lists_the_fields_of_both_types_when_the_type_changed(
    admin_client_logged: object, admin_user: object
) -> None:
    connection = make_connection(admin_user)
    update(
        connection,
        admin_user,
        connection_type="incoming",
        imap_server="imap.example.com",
        password="again",
    )
    fields = compared(admin_client_logged, connection, 1, 2)
    assert fields["Type"].changed
    assert fields["Incoming Mail Server (IMAP)"].changed
    assert fields["Outgoing Mail Server (SMTP)"].left == "127.0.0.1"
    assert "Trash Folder" in fields


def test_the_version_page_shows_only_the_fields_of_its_type(
    admin_client_logged: object, admin_user: object
) -> None:
    connection = make_connection(admin_user)
    response = admin_client_logged.get(url("version", connection.pk, 1))
    labels = dict(response.context["fields"])
    assert "SMTP Port" in labels
    assert "IMAP Port" not in labels
    assert "Trash Folder" not in labels
    assert "IMAP Port" not in text(response)


def test_an_unchanged_password_reads_the_same_in_compare_and_on_the_version_page(
    admin_client_logged: object, admin_user: object
) -> None:
    connection = make_connection(admin_user, password="kept-secret")
    update(connection, admin_user, description="second")
    fields = compared(admin_client_logged, connection, 1, 2)
    version = dict(admin_client_logged.get(url("version", connection.pk, 2)).context["fields"])
    assert fields["Password"].left == fields["Password"].right == version["Password"] == "set"
    assert not fields["Password"].changed


@pytest.mark.django_db(transaction=True)
def test_a_purge_in_a_terminal_prints_each_line_once(admin_user: object) -> None:
    # As an operator runs it, in a process of its own: the settings' logging writes to the
    # same terminal, so a line logged and printed shows twice.
    connection = make_connection(admin_user)
    for i in range(3):
        update(connection, admin_user, description=str(i))
    db = django_connection.settings_dict
    url = (
        f"sqlite:///{db['NAME']}"
        if django_connection.vendor == "sqlite"
        else f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    )
    done = subprocess.run(
        [sys.executable, "manage.py", "purge_versions", "--keep", "1"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    printed = done.stdout + done.stderr
    assert printed.count("removed 3 versions (1..3), kept the newest 1") == 1
    assert printed.count("Removed 3 versions in all.") == 1
