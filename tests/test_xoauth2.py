"""Test logs in with XOAUTH2 using the token the real Authorize flow stored, at servers that
accept a bearer token only when this app's own /o/introspect/ says it is active for that
user: aiosmtpd (SMTP) and Dovecot's oauth2 passdb (IMAP)."""

import base64
import smtplib

import pytest

from connections import connection_test
from connections.mail import xoauth2
from connections.models import EmailConnection
from tests.oauth_provider import (
    MAILBOX_USER,
    Provider,
    authorize_in_console,
    oauth_connection,
    run_flow,
)

pytestmark = pytest.mark.django_db(transaction=True)

REAUTHORIZE = "Reauthorize"


@pytest.fixture(autouse=True)
def _quick(settings: object) -> None:
    settings.MAIL_TEST_TIMEOUT = 10


def authorized(provider: Provider, connection: EmailConnection) -> EmailConnection:
    authorize_in_console(provider, connection)
    connection.refresh_from_db()
    assert connection.oauth_authorized
    return connection


def run_test(connection: EmailConnection, user: object, recipient: str = "") -> object:
    """The Test of the stored connection, as its page runs it."""
    stored = EmailConnection.objects.get(pk=connection.pk)
    return connection_test.run_test(stored, user, stored=stored, recipient=recipient)


def statuses(report: object) -> dict[str, str]:
    return {stage.name: stage.status for stage in report.stages}


# --- SMTP ---------------------------------------------------------------------------------


def test_an_authorized_connection_passes_every_smtp_stage_with_xoauth2(
    provider: Provider, oauth_client: object, smtp_oauth: object, mailbox_user: object
) -> None:
    connection = authorized(
        provider,
        oauth_connection(oauth_client, smtp_server=smtp_oauth.host, smtp_port=smtp_oauth.port),
    )
    report = run_test(connection, mailbox_user)
    assert report.ok, report.failed_stage
    assert set(statuses(report).values()) == {"ok"}
    assert report.stage("auth").detail["mechanism"] == "XOAUTH2"
    assert report.stage("auth").detail["offered"] == ["XOAUTH2"]
    assert smtp_oauth.checks == [{"user": MAILBOX_USER, "active": True, "username": MAILBOX_USER}]
    assert smtp_oauth.messages == []


def test_a_test_mail_through_xoauth2_reaches_the_server(
    provider: Provider, oauth_client: object, smtp_oauth: object, mailbox_user: object
) -> None:
    connection = authorized(
        provider,
        oauth_connection(oauth_client, smtp_server=smtp_oauth.host, smtp_port=smtp_oauth.port),
    )
    report = run_test(connection, mailbox_user, recipient="ops@example.com")
    assert report.ok, report.failed_stage
    assert report.sent
    [mail] = smtp_oauth.messages
    assert mail.auth_user == MAILBOX_USER
    assert mail.mail_from == MAILBOX_USER
    assert mail.rcpt_tos == ["ops@example.com"]


def test_a_token_refreshed_away_at_the_provider_fails_at_auth_with_the_reauthorize_hint(
    provider: Provider, oauth_client: object, smtp_oauth: object, mailbox_user: object
) -> None:
    connection = authorized(
        provider,
        oauth_connection(oauth_client, smtp_server=smtp_oauth.host, smtp_port=smtp_oauth.port),
    )
    # someone else spends the refresh token: the stored access token dies with it
    assert provider.refresh(connection.get_secret("oauth_refresh_token")).status_code == 200
    report = run_test(connection, mailbox_user, recipient="ops@example.com")
    assert not report.ok
    assert report.failed_stage.name == "auth"
    assert report.failed_stage.reply.startswith("535")
    assert REAUTHORIZE in report.failed_stage.hint
    assert smtp_oauth.checks[-1]["active"] is False
    assert smtp_oauth.messages == []


def test_a_token_revoked_at_the_provider_fails_at_auth_with_the_reauthorize_hint(
    provider: Provider, oauth_client: object, smtp_oauth: object, mailbox_user: object
) -> None:
    connection = authorized(
        provider,
        oauth_connection(oauth_client, smtp_server=smtp_oauth.host, smtp_port=smtp_oauth.port),
    )
    provider.revoke(connection.get_secret("oauth_access_token"), "access_token")
    report = run_test(connection, mailbox_user)
    assert report.failed_stage.name == "auth"
    assert REAUTHORIZE in report.failed_stage.hint
    assert statuses(report)["mail_from"] == "skipped"


def test_an_unauthorized_connection_says_authorize_first_and_sends_no_token(
    oauth_client: object, smtp_oauth: object, mailbox_user: object
) -> None:
    connection = oauth_connection(
        oauth_client, smtp_server=smtp_oauth.host, smtp_port=smtp_oauth.port
    )
    report = run_test(connection, mailbox_user)
    assert report.failed_stage.name == "auth"
    assert "authorize first" in report.failed_stage.hint
    assert smtp_oauth.checks == []


def test_the_introspecting_server_offers_no_password_login_and_checks_the_user(
    provider: Provider, smtp_oauth: object
) -> None:
    token = run_flow(provider)["access_token"]
    with smtplib.SMTP(smtp_oauth.host, smtp_oauth.port, timeout=10) as client:
        client.ehlo()
        assert client.esmtp_features["auth"].split() == ["XOAUTH2"]
        refused = xoauth2.Exchange("someone.else@example.com", token)
        with pytest.raises(smtplib.SMTPAuthenticationError) as error:
            client.auth("XOAUTH2", refused)
        assert error.value.smtp_code == 535
        assert refused.error["status"] == "401"
        code, _ = client.auth("XOAUTH2", xoauth2.Exchange(MAILBOX_USER, token))
        assert code == 235
    assert [c["user"] for c in smtp_oauth.checks] == ["someone.else@example.com", MAILBOX_USER]


def test_a_made_up_token_is_refused_by_the_introspecting_server(smtp_oauth: object) -> None:
    raw = xoauth2.sasl_string(MAILBOX_USER, "not-a-token-of-this-provider")
    with smtplib.SMTP(smtp_oauth.host, smtp_oauth.port, timeout=10) as client:
        client.ehlo()
        code, _ = client.docmd("AUTH", f"XOAUTH2 {base64.b64encode(raw.encode()).decode()}")
        assert code == 334  # the XOAUTH2 error challenge; the refusal follows the empty answer
        code, _ = client.docmd("")
        assert code == 535
    assert smtp_oauth.checks == [{"user": MAILBOX_USER, "active": False, "username": None}]


# --- IMAP: Dovecot's oauth2 passdb --------------------------------------------------------


def mailbox_connection(oauth_client: object, imap_oauth: object) -> EmailConnection:
    imap_oauth.make_mailbox(MAILBOX_USER)
    return oauth_connection(
        oauth_client,
        name="Mailbox (OAuth, IMAP)",
        connection_type=EmailConnection.Type.INCOMING,
        smtp_server="",
        imap_server=imap_oauth.host,
        imap_port=imap_oauth.port,
        trash_folder=imap_oauth.trash,
    )


def test_an_authorized_mailbox_passes_capability_xoauth2_and_list_at_dovecot(
    provider: Provider, oauth_client: object, imap_oauth: object, mailbox_user: object
) -> None:
    connection = authorized(provider, mailbox_connection(oauth_client, imap_oauth))
    report = run_test(connection, mailbox_user)
    assert report.ok, (report.failed_stage, imap_oauth.log()[-2000:])
    assert statuses(report) == {
        "dns": "ok",
        "connect": "ok",
        "greeting": "ok",
        "capability": "ok",
        "auth": "ok",
        "list": "ok",
        "trash_folder": "ok",
    }
    assert report.stage("auth").detail["mechanism"] == "XOAUTH2"
    assert f"user=<{MAILBOX_USER}>, method=XOAUTH2" in imap_oauth.log()


def test_a_mailbox_token_revoked_at_the_provider_fails_at_auth_with_the_reauthorize_hint(
    provider: Provider, oauth_client: object, imap_oauth: object, mailbox_user: object
) -> None:
    connection = authorized(provider, mailbox_connection(oauth_client, imap_oauth))
    provider.revoke(connection.get_secret("oauth_access_token"), "access_token")
    report = run_test(connection, mailbox_user)
    assert report.failed_stage.name == "auth", report.failed_stage
    assert REAUTHORIZE in report.failed_stage.hint
    assert statuses(report)["list"] == "skipped"
