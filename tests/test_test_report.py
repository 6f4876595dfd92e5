"""The Test report as an operator reads it: stages and details in words, replies verbatim."""

import html
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from connections.mail import labels
from tests.factories import connection_form

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _trust_the_test_ca(settings: object, mail_ca_file: str) -> None:
    settings.MAIL_TEST_CA_BUNDLE = mail_ca_file
    settings.MAIL_TEST_TIMEOUT = 3
    settings.MAIL_TEST_TOTAL_TIMEOUT = 10


def report_page(client: object, server: object, **values: object) -> str:
    """The report page for unsaved values, as plain words (tags dropped, spaces folded)."""
    data = connection_form(
        **{
            "smtp_server": server.host,
            "smtp_port": str(server.port),
            "enable_starttls": None,
            "user_name": server.user,
            "password": server.password,
            **values,
        }
    )
    response = client.post(reverse("connections:emailconnection-test-new"), data)
    assert response.status_code == 200
    words = re.sub(r"<[^>]+>", " ", response.content.decode())
    return " ".join(html.unescape(words).split())


def test_stages_are_named_in_words(admin_client_logged: object, smtp_starttls: object) -> None:
    page = report_page(admin_client_logged, smtp_starttls, enable_starttls="on")

    for label in ("DNS lookup", "TCP connect", "TLS handshake", "Greeting", "EHLO"):
        assert label in page
    for label in ("Authentication", "MAIL FROM", "RCPT TO", "DATA", "Aborted (dry run)"):
        assert label in page
    assert "MAIL_FROM" not in page
    assert "RCPT_TO" not in page


def test_details_are_labelled_with_readable_values(
    admin_client_logged: object, smtp_starttls: object
) -> None:
    page = report_page(admin_client_logged, smtp_starttls, enable_starttls="on")

    expires = (datetime.now(UTC) + timedelta(days=30)).date().isoformat()
    assert f"Certificate expires: {expires} (29 days left)" in page
    assert "Certificate verified: Yes" in page
    assert "STARTTLS offered: Yes" in page
    assert "Maximum message size: 32 MB" in page
    assert "Login methods: LOGIN, PLAIN, XOAUTH2" in page
    assert "Dry run: Yes" in page
    for raw in ("auth_mechanisms", "dry_run", "not_after", "days_left", "True", "False"):
        assert raw not in page


def test_the_servers_reply_is_shown_as_it_came(
    admin_client_logged: object, smtp_plain: object
) -> None:
    page = report_page(admin_client_logged, smtp_plain)

    assert "354 End data with <CR><LF>.<CR><LF>" in page


def test_a_failed_test_names_its_stage_in_words(
    admin_client_logged: object, smtp_plain: object
) -> None:
    page = report_page(admin_client_logged, smtp_plain, password="not-it")

    assert "Test failed at Authentication · Authentication rejected" in page


def test_an_imap_report_names_folders_and_the_trash_folder(
    admin_client_logged: object, imap_server: object
) -> None:
    page = report_page(
        admin_client_logged,
        imap_server,
        connection_type="incoming",
        smtp_server="",
        imap_server=imap_server.host,
        imap_port=str(imap_server.port),
        smtp_port="25",
        trash_folder=imap_server.trash,
    )

    assert "Test passed" in page
    assert "Number of folders: 2 · Folders: INBOX, Trash" in page
    assert "Trash Folder OK" in page
    assert "Folder: Trash" in page


def test_an_unannounced_size_and_empty_details_read_well() -> None:
    shown = labels.details(
        "ehlo",
        {"capabilities": ["PIPELINING"], "auth_mechanisms": [], "size": None, "tls": False},
    )

    assert shown == [
        ("Extensions", "PIPELINING"),
        ("Maximum message size", "not announced"),
        ("Over TLS", "No"),
    ]


def test_sizes_read_in_kb_and_mb() -> None:
    assert labels.message_size(0) == "no fixed limit"
    assert labels.message_size(512) == "512 bytes"
    assert labels.message_size(51200) == "50 KB"
    assert labels.message_size(10 * 1024 * 1024) == "10 MB"
    assert labels.message_size(36700160) == "35 MB"


def test_an_expired_certificate_says_how_long_ago() -> None:
    shown = labels.details("tls", {"not_after": "2026-01-02T00:00:00+00:00", "days_left": -3})

    assert shown == [("Certificate expires", "2026-01-02 (expired 3 days ago)")]


def test_a_detail_the_reply_already_says_is_not_repeated() -> None:
    shown = labels.details("connect", {"peer": "127.0.0.1:25"}, "connected to 127.0.0.1:25")

    assert shown == []


def test_every_detail_key_the_engines_write_has_a_label() -> None:
    """Task runs show their details in words too, never a generated label like 'Uidvalidity'."""
    import re
    from pathlib import Path

    from connections.mail import labels

    written = set()
    for path in Path("connections").rglob("*.py"):
        source = path.read_text()
        written |= set(re.findall(r"detail\[\"([a-z_]+)\"\]\s*=", source))
        for call in re.findall(r"detail\.update\(([^)]*)\)", source):
            written |= set(re.findall(r"\b([a-z_]+)=", call))
    hidden = {key for _, key in labels.HIDDEN}
    assert written - hidden - set(labels.DETAILS) == set()
