"""SMTP stages of the probe: greeting, EHLO, TLS, AUTH, MAIL FROM, RCPT TO, DATA, abort or send."""

from __future__ import annotations

import contextlib
import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING, Any

from connections.mail import tls, xoauth2
from connections.mail.report import Failed, Own, Recorder

if TYPE_CHECKING:
    from connections.mail.probe import ProbeParams

SUBJECT = "Test message from Email Connections console"
STARTTLS_PORTS = "587/25"
PORTS = "25 or 587, or 465 with Enable SSL"
MAX_LINE = 8192  # as smtplib


def plan(params: ProbeParams) -> list[str]:
    stages = ["tls"] if params.ssl else []
    stages += ["greeting", "ehlo"]
    if params.starttls:
        stages += ["tls", "ehlo"]
    ending = "send" if params.recipient or params.message else "abort"
    return [*stages, "auth", "mail_from", "rcpt_to", "data", ending]


class Client(smtplib.SMTP):
    """smtplib on a socket the probe connected itself, so every step is timed on its own.

    Every line read is counted by the recorder, which stops a server that sends too much.
    """

    def __init__(self, sock: socket.socket, host: str, rec: Recorder) -> None:
        super().__init__(local_hostname=_helo_name(sock))
        self.sock = sock
        self._host = host  # smtplib.starttls checks the certificate against this name
        self.rec = rec
        self.first_line = b""

    def getreply(self) -> tuple[int, bytes]:
        # smtplib reads through self.file, made here when missing (again after STARTTLS)
        if self.file is None:
            self.file = CountedLines(self.sock.makefile("rb"), self)
        return super().getreply()

    def tls_active(self) -> bool:
        return isinstance(self.sock, ssl.SSLSocket)


class CountedLines:
    """The socket's file as smtplib reads it, one counted line at a time."""

    def __init__(self, file: Any, client: Client) -> None:
        self.file = file
        self.client = client

    def readline(self, limit: int = -1) -> bytes:
        line = self.file.readline(MAX_LINE + 1)
        self.client.rec.received(len(line), line_limit=MAX_LINE)
        if not self.client.first_line:
            self.client.first_line = line
        return line

    def close(self) -> None:
        self.file.close()


def _helo_name(sock: socket.socket) -> str:
    # socket.getfqdn() (smtplib's default) may wait on reverse DNS; an address literal
    # is always a valid EHLO argument when the host name is not fully qualified.
    name = socket.gethostname()
    if "." in name:
        return name
    address = sock.getsockname()[0]
    return f"[IPv6:{address}]" if ":" in address else f"[{address}]"


def probe(rec: Recorder, params: ProbeParams, sock: socket.socket) -> None:
    client = Client(sock, params.host, rec)
    rec.arm(lambda: client.sock)
    rec.explain = lambda name, exc: _explain(name, exc, params)
    try:
        if params.ssl:
            with rec.stage("tls") as stage:
                context = tls.context(params.ca_file)
                client.sock = context.wrap_socket(sock, server_hostname=params.host)
                _describe_tls(stage.detail, client)
                stage.reply = f"{stage.detail['version']}, {stage.detail['subject']}"
        greeting(rec, client)
        ehlo(rec, client)
        if params.starttls:
            starttls(rec, client, params)
            ehlo(rec, client)
        authenticate(rec, client, params)
        envelope(rec, client, params)
        if params.recipient or params.message:
            send(rec, client, params)
        else:
            abort(rec, client)
    finally:
        _close(client, rec)


def _close(client: Client, rec: Recorder) -> None:
    # a polite QUIT, but after a timeout the server gets one short second, not a stage's worth;
    # a server that sent too much is not read again
    if client.sock is not None and not rec.overflowed:
        with contextlib.suppress(smtplib.SMTPException, OSError, Failed):
            client.sock.settimeout(min(1.0, rec.budget()))
            client.quit()
    client.close()


def greeting(rec: Recorder, client: Client) -> None:
    with rec.stage("greeting") as stage:
        code, text = client.getreply()
        # a reply without a code is kept as it came (an IMAP or POP3 greeting, say)
        stage.reply = _reply(code, text) if code >= 0 else _text(client.first_line)
        if code != 220:
            hint = tls.wrong_protocol_hint(client.first_line, "SMTP", PORTS)
            raise Failed(stage.reply, hint or "The server refused the session: see its reply.")


def ehlo(rec: Recorder, client: Client) -> None:
    with rec.stage("ehlo") as stage:
        code, text = client.ehlo()
        if code != 250:
            code, text = client.helo()  # a server from before ESMTP
        stage.reply = _reply(code, text)
        if code != 250:
            raise Failed(stage.reply, "The server refused EHLO and HELO: see its reply.")
        features = client.esmtp_features
        size = features.get("size", "").strip()
        stage.detail.update(
            capabilities=sorted(name.upper() for name in features),
            auth_mechanisms=features.get("auth", "").upper().split(),
            size=int(size) if size.isdigit() else None,
            starttls="starttls" in features,
            tls=client.tls_active(),
        )


def starttls(rec: Recorder, client: Client, params: ProbeParams) -> None:
    with rec.stage("tls") as stage:
        if not client.has_extn("starttls"):
            raise Failed(
                Own("STARTTLS is not in the EHLO reply"),
                f"The server does not offer STARTTLS on port {params.port}: turn off Enable "
                "STARTTLS, or use port 465 with Enable SSL.",
            )
        code, text = client.starttls(context=tls.context(params.ca_file))
        stage.reply = _reply(code, text)
        if code != 220:
            raise Failed(stage.reply, "The server refused STARTTLS: see its reply.")
        _describe_tls(stage.detail, client)


def _describe_tls(detail: dict[str, Any], client: Client) -> None:
    assert isinstance(client.sock, ssl.SSLSocket)
    detail.update(tls.details(client.sock))


def authenticate(rec: Recorder, client: Client, params: ProbeParams) -> None:
    if params.auth == "none":
        rec.skip("auth", "Not applicable: Authentication is None.")
        return
    with rec.stage("auth") as stage:
        offered = client.esmtp_features.get("auth", "").upper().split()
        stage.detail["offered"] = offered
        if params.auth == "oauth2":
            mechanism, exchange = "XOAUTH2", xoauth2.Exchange(params.username, params.access_token)
            authobject: Any = exchange
        else:
            mechanism = next((m for m in ("PLAIN", "LOGIN") if m in offered), "PLAIN")
            exchange = None
            client.user, client.password = params.username, params.password
            authobject = client.auth_plain if mechanism == "PLAIN" else client.auth_login
        stage.detail["mechanism"] = mechanism
        if mechanism not in offered:
            offer = rec.scrub(" ".join(offered)) or "none"
            raise Failed(Own(f"AUTH offered: {offer}"), _no_auth_hint(rec, client))
        try:
            code, text = client.auth(mechanism, _utf8(authobject))
        except smtplib.SMTPAuthenticationError as exc:
            if exchange is not None and exchange.error:
                stage.detail["error"] = exchange.error
            reply = _reply(exc.smtp_code, exc.smtp_error)
            raise Failed(reply, _refused_hint(exc.smtp_code, client, params)) from exc
        finally:
            client.password = ""
        stage.reply = _reply(code, text)


class _Utf8(str):
    """A SASL response that smtplib's .encode("ascii") turns into UTF-8 (RFC 4616), so that a
    password with "é" logs in instead of failing inside smtplib with its character quoted."""

    __slots__ = ()

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return str.encode(self, "utf-8", errors)


def _utf8(authobject: Callable[..., str]) -> Callable[..., str]:
    return lambda challenge=None: _Utf8(authobject(challenge))


def _no_auth_hint(rec: Recorder, client: Client) -> str:
    offered = client.esmtp_features.get("auth", "").upper().split()
    if not client.tls_active() and client.has_extn("starttls"):
        return "The server wants STARTTLS before AUTH: turn on Enable STARTTLS."
    if not offered and not client.tls_active():
        return (
            "The server offers no AUTH on this port: use port 587 with Enable STARTTLS or "
            "port 465 with Enable SSL, or choose Authentication None."
        )
    if not offered:
        return "The server offers no AUTH here: choose Authentication None."
    return f"The server does not offer this method; it offers {rec.scrub(' '.join(offered))}."


def _refused_hint(code: int, client: Client, params: ProbeParams) -> str:
    if code == 530 and not client.tls_active():
        return "The server wants STARTTLS before AUTH: turn on Enable STARTTLS."
    if 400 <= code < 500:
        return "The server could not check the login right now: try again later."
    if params.auth == "oauth2":
        return "Authentication rejected: the access token was refused: Reauthorize the connection."
    return "Authentication rejected: check User Name and Password."


def envelope(rec: Recorder, client: Client, params: ProbeParams) -> None:
    sender = params.email_address
    with rec.stage("mail_from") as stage:
        stage.detail["sender"] = sender
        if not sender:
            raise Failed("", "Set the Email Address: it is the sender (MAIL FROM).")
        code, text = client.mail(sender)
        stage.reply = _reply(code, text)
        if code != 250:
            raise Failed(stage.reply, _sender_hint(code, text, client, params))
    recipients = params.recipients if params.message else [params.recipient or sender]
    with rec.stage("rcpt_to") as stage:
        if params.message:
            stage.detail["recipients"] = recipients
        else:
            stage.detail.update(recipient=recipients[0], dry_run=not params.recipient)
        # every recipient is tried, so that all the refused ones are named at once
        refused: dict[str, str] = {}
        for recipient in recipients:
            code, text = client.rcpt(recipient)
            stage.reply = _reply(code, text)
            if code not in (250, 251):
                refused[recipient] = stage.reply
        if refused:
            if params.message:
                stage.detail["refused"] = refused
            stage.reply = next(iter(refused.values()))
            raise Failed(stage.reply, _recipient_hint(list(refused), params))
    with rec.stage("data") as stage:
        client.putcmd("data")
        code, text = client.getreply()
        stage.reply = _reply(code, text)
        if code != 354:
            raise Failed(stage.reply, "The server refused to take a message: see its reply.")


def _sender_hint(code: int, text: bytes, client: Client, params: ProbeParams) -> str:
    wants_tls = b"STARTTLS" in text.upper() or client.has_extn("starttls")
    if code == 530 and wants_tls and not client.tls_active():
        return "The server wants STARTTLS before mail: turn on Enable STARTTLS."
    if code == 530 and params.auth == "none":
        return "The server requires a login: choose Authentication Password or OAuth 2.0."
    return f"The server refused the sender address {params.email_address}: check Email Address."


def _recipient_hint(refused: list[str], params: ProbeParams) -> str:
    recipient = ", ".join(refused)
    if params.message:
        return f"The server refused the recipient {recipient}: check the address; nothing was sent."
    if params.recipient:
        return f"The server refused the recipient {recipient}: check the address."
    return (
        f"The server refused {recipient} as recipient (the dry run writes to the sender): "
        "give a test recipient, or check that this account may send."
    )


def abort(rec: Recorder, client: Client) -> None:
    # A DATA command cannot be cancelled with RSET (it would become message text), but a
    # connection dropped before the final "." must be treated as RSET (RFC 5321, 3.8):
    # the transaction is thrown away and nothing is delivered.
    with rec.stage("abort") as stage:
        client.close()
        stage.reply = Own("Closed inside DATA, before the end of the message: nothing was sent.")
        stage.detail["dry_run"] = True


def send(rec: Recorder, client: Client, params: ProbeParams) -> None:
    with rec.stage("send") as stage:
        message = params.message or test_message(params)
        stage.detail["message_id"] = message["Message-ID"]
        if params.message is None:
            stage.detail.update(recipient=params.recipient, subject=Own(SUBJECT))
        else:
            stage.detail["subject"] = str(message["Subject"])
        client.send(_dot_stuffed(message.as_bytes(policy=SMTP_POLICY)) + b".\r\n")
        code, text = client.getreply()
        stage.reply = _reply(code, text)
        if code != 250:
            what = "test message" if params.message is None else "message"
            raise Failed(stage.reply, f"The server refused the {what}: see its reply.")
        rec.report.sent = True


def test_message(params: ProbeParams) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = SUBJECT
    message["From"] = params.email_address
    message["To"] = params.recipient
    message["Date"] = formatdate(localtime=True)
    domain = params.email_address.rpartition("@")[2] or None
    message["Message-ID"] = make_msgid("connection-test", domain=domain)
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(
        "This is a test message from the Email Connections console.\n\n"
        f"It was sent through {params.host}:{params.port} to check that the connection can "
        "send mail. No reply is needed.\n"
    )
    return message


def _dot_stuffed(data: bytes) -> bytes:
    data = re.sub(rb"(?m)^\.", b"..", data)
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def _reply(code: int, text: bytes | str) -> str:
    return f"{code} {_text(text)}".strip()


def _text(text: bytes | str) -> str:
    return text.decode(errors="replace").strip() if isinstance(text, bytes) else text


def _explain(name: str, exc: BaseException, params: ProbeParams) -> str:
    """Hints for the failures that arrive as exceptions rather than as replies."""
    return tls.connection_hint(
        name, exc, params, 465, STARTTLS_PORTS, closed=smtplib.SMTPServerDisconnected
    )
