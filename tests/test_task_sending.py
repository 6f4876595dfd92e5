"""Email Task sends: the rendered message through a stored Outgoing connection, received by
the loopback aiosmtpd servers (which keep every message they accept)."""

import email
import email.policy
from collections.abc import Iterator
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from connections.models import EmailConnection
from connections.tasks import sending
from connections.tasks.render import Draft
from tests.factories import make_connection, make_oauth_client
from tests.mailservers import HOST, SmtpServer, free_port
from tests.oauth_provider import MAILBOX_USER, authorize_in_console, oauth_connection

pytestmark = pytest.mark.django_db

DRAFT = Draft(
    reply_to="${team}-desk@example.com",
    to="${team}@example.com, ann@example.com",
    cc="boss@example.com",
    bcc="audit@example.com",
    subject="Job ${job} failed",
    body="Job ${job} failed on $host.\nCosts: $$0\n.\n",
)
VALUES = {"team": "ops", "job": "nightly", "host": "db1"}


def outgoing(server: Any, **values: object) -> EmailConnection:
    fields = {
        "name": "Mailer",
        "smtp_server": server.host,
        "smtp_port": server.port,
        "email_address": "robot@example.com",
        "user_name": "alice",
    }
    fields.update(values)
    return make_connection(**fields)


def test_the_rendered_message_arrives_with_its_recipients_and_headers(smtp_plain):
    report = sending.send(outgoing(smtp_plain), DRAFT, VALUES)

    assert report.ok, report.failed_stage
    assert report.sent
    [received] = smtp_plain.messages
    assert received.auth_user == "alice"
    assert received.mail_from == "robot@example.com"
    assert received.rcpt_tos == [
        "ops@example.com",
        "ann@example.com",
        "boss@example.com",
        "audit@example.com",
    ]
    message = received.message
    assert message["From"] == "robot@example.com"
    assert message["To"] == "ops@example.com, ann@example.com"
    assert message["Cc"] == "boss@example.com"
    assert message["Reply-To"] == "ops-desk@example.com"
    assert message["Subject"] == "Job nightly failed"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["Date"]
    assert "Bcc" not in message
    assert b"audit@" not in message.as_bytes()
    assert message["Message-ID"] == report.message_id
    assert report.message_id.endswith("@example.com>")
    assert (
        message.get_content().replace("\r\n", "\n") == "Job nightly failed on db1.\nCosts: $0\n.\n"
    )


def test_the_report_has_the_smtp_stages_and_the_message(smtp_plain):
    report = sending.send(outgoing(smtp_plain), DRAFT, VALUES)

    assert [s.name for s in report.stages] == [
        "message", "dns", "connect", "greeting", "ehlo", "auth",
        "mail_from", "rcpt_to", "data", "send",
    ]  # fmt: skip
    assert report.stage("rcpt_to").detail["recipients"] == [
        "ops@example.com",
        "ann@example.com",
        "boss@example.com",
        "audit@example.com",
    ]
    assert report.stage("send").detail["message_id"] == report.message_id
    assert report.subject == "Job nightly failed"
    assert report.to_dict()["recipients"][-1] == "audit@example.com"
    assert "s3cret" not in str(report.to_dict())


def test_starttls_verifies_with_the_configured_trust(smtp_starttls, settings, mail_ca_file):
    settings.MAIL_TEST_CA_BUNDLE = mail_ca_file

    report = sending.send(outgoing(smtp_starttls, enable_starttls=True), DRAFT, VALUES)

    assert report.ok, report.failed_stage
    assert report.stage("tls").detail["verified"] is True
    assert len(smtp_starttls.messages) == 1


def test_ssl_sends_over_implicit_tls(smtp_ssl, settings, mail_ca_file):
    settings.MAIL_TEST_CA_BUNDLE = mail_ca_file

    report = sending.send(outgoing(smtp_ssl, enable_ssl=True), DRAFT, VALUES)

    assert report.ok, report.failed_stage
    assert [s.name for s in report.stages][3] == "tls"
    assert len(smtp_ssl.messages) == 1


def test_an_untrusted_certificate_fails_at_tls_with_the_probes_hint(smtp_ssl, settings):
    settings.MAIL_TEST_CA_BUNDLE = ""

    report = sending.send(outgoing(smtp_ssl, enable_ssl=True), DRAFT, VALUES)

    assert report.failed_stage.name == "tls"
    assert "MAIL_TEST_CA_BUNDLE" in report.failed_stage.hint
    assert smtp_ssl.messages == []


def test_an_unknown_placeholder_fails_before_connecting_naming_it(smtp_plain):
    report = sending.send(outgoing(smtp_plain), DRAFT, {"team": "ops"})

    assert not report.ok
    assert report.failed_stage.name == "message"
    assert report.failed_stage.hint.startswith("Unknown placeholders ${job}, ${host}")
    assert {s.status for s in report.stages[1:]} == {"skipped"}
    assert smtp_plain.messages == []


def test_an_address_that_is_not_valid_after_rendering_fails_at_message(smtp_plain):
    report = sending.send(outgoing(smtp_plain), DRAFT, {**VALUES, "team": "two words"})

    assert report.failed_stage.name == "message"
    assert report.failed_stage.hint == (
        "Reply-To: not a valid email address: two words-desk@example.com."
    )


def test_a_message_without_recipients_fails_at_message(smtp_plain):
    report = sending.send(outgoing(smtp_plain), Draft(body="x"), {})

    assert report.failed_stage.hint == "Give at least one recipient in To, CC or BCC."


def test_a_recipient_given_twice_gets_the_message_once(smtp_plain):
    draft = Draft(to="Ops@example.com", bcc="OPS@example.com, ops@example.com", body="x")

    sending.send(outgoing(smtp_plain), draft, {})

    assert smtp_plain.messages[0].rcpt_tos == ["Ops@example.com"]


def test_a_refused_login_fails_at_auth_with_the_probes_hint(smtp_plain):
    connection = outgoing(smtp_plain, password="wrong-password")

    report = sending.send(connection, DRAFT, VALUES)

    assert report.failed_stage.name == "auth"
    assert report.failed_stage.hint == "Authentication rejected: check User Name and Password."
    assert "wrong-password" not in str(report.to_dict())
    assert smtp_plain.messages == []


def test_an_unauthorized_oauth_connection_fails_at_auth_saying_authorize_first(smtp_plain):
    connection = outgoing(
        smtp_plain, authentication=EmailConnection.Auth.OAUTH2, oauth_client=make_oauth_client()
    )

    report = sending.send(connection, DRAFT, VALUES)

    assert report.failed_stage.name == "auth"
    assert report.failed_stage.hint.startswith("authorize first")
    assert report.stage("connect").status == "skipped"
    assert report.stage("send").status == "skipped"


def test_an_incoming_connection_cannot_send(smtp_plain):
    connection = make_connection(
        connection_type=EmailConnection.Type.INCOMING, imap_server=HOST, imap_port=143
    )

    report = sending.send(connection, DRAFT, VALUES)

    assert report.failed_stage.name == "message"
    assert "choose an Outgoing connection" in report.failed_stage.hint


class Refusing:
    """Accepts every recipient except those at nowhere.example."""

    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_RCPT(self, server, session, envelope, address, options):
        if address.endswith("@nowhere.example"):
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"


@pytest.fixture
def refusing_server() -> Iterator[SmtpServer]:
    handler = Refusing()
    server = SmtpServer(HOST, free_port(), cert="")
    controller = Controller(handler, hostname=HOST, port=server.port, server_hostname="localhost")
    controller.start()
    server.messages = handler.messages
    yield server
    controller.stop()


def test_a_refused_recipient_is_named_and_nothing_is_sent(refusing_server):
    connection = outgoing(refusing_server, authentication=EmailConnection.Auth.NONE, user_name="")
    draft = Draft(to="ops@example.com, ghost@nowhere.example", body="x")

    report = sending.send(connection, draft, {})

    assert report.failed_stage.name == "rcpt_to"
    assert report.failed_stage.reply == "550 5.1.1 No such user here"
    assert report.failed_stage.hint == (
        "The server refused the recipient ghost@nowhere.example: check the address; "
        "nothing was sent."
    )
    assert report.stage("rcpt_to").detail["refused"] == {
        "ghost@nowhere.example": "550 5.1.1 No such user here"
    }
    assert not report.sent
    assert refusing_server.messages == []


@pytest.mark.django_db(transaction=True)
def test_an_authorized_oauth_connection_sends_with_xoauth2(
    provider, oauth_client, smtp_oauth, mailbox_user
):
    connection = oauth_connection(
        oauth_client, smtp_server=smtp_oauth.host, smtp_port=smtp_oauth.port
    )
    authorize_in_console(provider, connection)
    connection.refresh_from_db()

    report = sending.send(connection, DRAFT, VALUES)

    assert report.ok, report.failed_stage
    assert report.stage("auth").detail["mechanism"] == "XOAUTH2"
    [received] = smtp_oauth.messages
    assert received.auth_user == MAILBOX_USER
    assert received.message["From"] == MAILBOX_USER
    assert received.message["Message-ID"] == report.message_id


def test_a_silent_server_fails_within_the_time_limit(silent_server, settings):
    settings.MAIL_TEST_TIMEOUT = 0.3

    report = sending.send(outgoing(silent_server), DRAFT, VALUES)

    assert report.failed_stage.name == "greeting"
    assert "sent no greeting within 0.3 s" in report.failed_stage.hint
    assert report.duration_ms < 3000
    assert not report.sent
