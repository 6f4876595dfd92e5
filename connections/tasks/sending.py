"""An Email Task's run: render the message and send it through a stored Outgoing connection.

The SMTP session is the Test probe's (its stages, timing, bounds, trust configuration and
hints); only the message and its recipients differ. BCC recipients are in the envelope only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING

from django.conf import settings

from connections.mail import probe, smtp, tls
from connections.mail.report import Failed, Own, Recorder, Report, Stage, Stop
from connections.tasks.render import LABELS, Draft, RenderError, render

if TYPE_CHECKING:
    import socket

    from connections.models import EmailConnection


@dataclass
class Delivery(Report):
    """The Test report's stages for one sent message, with what identifies it."""

    message_id: str = ""
    subject: str = ""
    recipients: list[str] = field(default_factory=list)


@dataclass
class Prepared:
    message: EmailMessage
    recipients: list[str]  # the envelope: To, CC and BCC, each once


def prepare(connection: EmailConnection, draft: Draft) -> Prepared:
    """The message of a rendered draft, From the connection's Email Address.

    Raises RenderError when an address is not valid or no recipient is left.
    """
    from connections.models import split_addresses

    addresses: dict[str, list[str]] = {}
    for name in ("reply_to", "to", "cc", "bcc"):
        good, bad = split_addresses(getattr(draft, name))
        if bad:
            raise RenderError(f"{LABELS[name]}: not a valid email address: {', '.join(bad)}.")
        addresses[name] = good
    envelope: dict[str, str] = {}
    for address in [*addresses["to"], *addresses["cc"], *addresses["bcc"]]:
        envelope.setdefault(address.lower(), address)
    recipients = list(envelope.values())
    if not recipients:
        raise RenderError("Give at least one recipient in To, CC or BCC.")
    sender = connection.email_address
    message = EmailMessage()
    message["From"] = sender
    for name, header in (("reply_to", "Reply-To"), ("to", "To"), ("cc", "Cc")):
        if addresses[name]:
            message[header] = ", ".join(addresses[name])
    message["Subject"] = draft.subject
    message["Date"] = formatdate(localtime=True)
    # a domain of our own: make_msgid would otherwise ask DNS for this host's name
    message["Message-ID"] = make_msgid("task", domain=sender.rpartition("@")[2] or "localhost")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(draft.body)
    return Prepared(message, recipients)


def send(connection: EmailConnection, draft: Draft, values: Mapping[str, str]) -> Delivery:
    """Render draft with values and send it through connection; every failure is in the report.

    `draft` is the task merged over its template (render.merged), `values` the task's
    variables merged with the Run now values (render.variables).
    """
    # imported here: the task models import this package
    from connections import connection_test
    from connections.oauth import tokens

    delivery = Delivery("smtp", (connection.server or "").strip(), int(connection.port or 0))
    params = probe.ProbeParams(
        "smtp",
        delivery.host,
        delivery.port,
        connection.enable_ssl,
        connection.enable_starttls,
        auth=connection.authentication,
        recipient="-",  # a plan that sends
    )
    rec = Recorder(
        delivery,
        plan=["message", "dns", "connect", *smtp.plan(params)],
        timeout=settings.MAIL_TEST_TIMEOUT,
        total_timeout=settings.MAIL_TEST_TOTAL_TIMEOUT,
        secrets=[],
    )
    sock = None
    try:
        prepared = _message(rec, connection, draft, values)
        try:
            params = connection_test.params_for(connection, connection)
        except tokens.AuthorizationNeeded as exc:
            _not_authorized(rec, str(exc))
        rec.secrets = probe._secrets(params)
        rec.explain = lambda name, exc: probe._connect_hint(name, exc, params)
        addresses = probe.resolve(rec, params)
        sock = probe.connect(rec, params, addresses)
        _session(rec, params, sock, prepared)
        delivery.message_id = str(prepared.message["Message-ID"])
    except Stop:
        rec.skip_rest()
    finally:
        live = rec.sock() or sock
        if live is not None:
            live.close()
    return rec.finish()


def _message(
    rec: Recorder, connection: EmailConnection, draft: Draft, values: Mapping[str, str]
) -> Prepared:
    with rec.stage("message") as stage:
        if not connection.is_outgoing:
            raise Failed(
                Own("An Incoming connection cannot send."),
                "An Email Task sends mail: choose an Outgoing connection.",
            )
        try:
            prepared = prepare(connection, render(draft, values))
        except ValueError as exc:  # RenderError, or a header the email package refuses
            raise Failed(Own("The message cannot be made."), str(exc)) from exc
        message = prepared.message
        report = rec.report
        assert isinstance(report, Delivery)
        report.subject, report.recipients = str(message["Subject"]), prepared.recipients
        stage.detail.update(
            sender=connection.email_address,
            recipients=prepared.recipients,
            subject=report.subject,
            message_id=str(message["Message-ID"]),
        )
        stage.reply = Own(f"A message to {len(prepared.recipients)} recipients.")
        return prepared


def _not_authorized(rec: Recorder, reason: str) -> None:
    # nothing goes over the network without a token: the stages before auth are not run
    for name in rec.plan[len(rec.report.stages) : rec.plan.index("auth")]:
        rec.skip(name, "Not run: the connection must be authorized first.")
    rec.report.stages.append(Stage("auth", "failed", hint=reason))
    raise Stop


def _session(
    rec: Recorder, params: probe.ProbeParams, sock: socket.socket, prepared: Prepared
) -> None:
    client = smtp.Client(sock, params.host, rec)
    rec.arm(lambda: client.sock)
    rec.explain = lambda name, exc: smtp._explain(name, exc, params)
    try:
        if params.ssl:
            with rec.stage("tls") as stage:
                context = tls.context(params.ca_file)
                client.sock = context.wrap_socket(sock, server_hostname=params.host)
                smtp._describe_tls(stage.detail, client)
                stage.reply = f"{stage.detail['version']}, {stage.detail['subject']}"
        smtp.greeting(rec, client)
        smtp.ehlo(rec, client)
        if params.starttls:
            smtp.starttls(rec, client, params)
            smtp.ehlo(rec, client)
        smtp.authenticate(rec, client, params)
        _envelope(rec, client, params, prepared.recipients)
        _send(rec, client, prepared)
    finally:
        smtp._close(client, rec)


def _envelope(
    rec: Recorder, client: smtp.Client, params: probe.ProbeParams, recipients: list[str]
) -> None:
    with rec.stage("mail_from") as stage:
        stage.detail["sender"] = params.email_address
        code, text = client.mail(params.email_address)
        stage.reply = smtp._reply(code, text)
        if code != 250:
            raise Failed(stage.reply, smtp._sender_hint(code, text, client, params))
    with rec.stage("rcpt_to") as stage:
        stage.detail["recipients"] = recipients
        refused = {}
        for recipient in recipients:
            code, text = client.rcpt(recipient)
            if code not in (250, 251):
                refused[recipient] = smtp._reply(code, text)
        stage.reply = Own(f"{len(recipients) - len(refused)} of {len(recipients)} accepted")
        if refused:
            stage.detail["refused"] = refused
            names = ", ".join(refused)
            raise Failed(
                next(iter(refused.values())),
                f"The server refused the recipient {names}: check the address; nothing was sent.",
            )
    with rec.stage("data") as stage:
        client.putcmd("data")
        code, text = client.getreply()
        stage.reply = smtp._reply(code, text)
        if code != 354:
            raise Failed(stage.reply, "The server refused to take a message: see its reply.")


def _send(rec: Recorder, client: smtp.Client, prepared: Prepared) -> None:
    with rec.stage("send") as stage:
        message = prepared.message
        stage.detail.update(message_id=str(message["Message-ID"]), subject=str(message["Subject"]))
        client.send(smtp._dot_stuffed(message.as_bytes(policy=smtp.SMTP_POLICY)) + b".\r\n")
        code, text = client.getreply()
        stage.reply = smtp._reply(code, text)
        if code != 250:
            raise Failed(stage.reply, "The server refused the message: see its reply.")
        rec.report.sent = True
