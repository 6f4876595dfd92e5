"""The Test button's engine: talk the real protocol to a mail server and report each stage."""

from __future__ import annotations

import errno
import queue
import socket
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from connections.mail import imap, smtp, xoauth2
from connections.mail.report import Recorder, Report, Stop, secret_forms

if TYPE_CHECKING:
    from email.message import EmailMessage


@dataclass
class ProbeParams:
    protocol: str  # "smtp" | "imap"
    host: str
    port: int
    ssl: bool = False  # implicit TLS from the first byte
    starttls: bool = False
    auth: str = "none"  # "none" | "password" | "oauth2"
    username: str = ""
    password: str = ""  # never logged, scrubbed from the report
    access_token: str = ""  # for XOAUTH2, scrubbed like the password
    email_address: str = ""  # SMTP: MAIL FROM; IMAP: the mailbox address (informational)
    trash_folder: str = ""  # IMAP: checked to exist when set
    recipient: str = ""  # SMTP: when set, a real test mail is sent; otherwise a dry run
    # SMTP: a message sent instead of the test mail, to every one of recipients (the envelope)
    message: EmailMessage | None = None
    recipients: list[str] = field(default_factory=list)
    timeout: float = 10.0  # per stage, seconds
    total_timeout: float = 30.0  # the whole probe
    ca_file: str = ""  # extra CA bundle, trusted in addition to the system store


def run(params: ProbeParams) -> Report:
    if params.ssl and params.starttls:
        raise ValueError("Enable SSL and Enable STARTTLS exclude each other.")
    if params.protocol not in ("smtp", "imap"):
        raise ValueError(f"Unknown protocol {params.protocol!r}: expected smtp or imap.")
    protocol = smtp if params.protocol == "smtp" else imap
    rec = Recorder(
        Report(params.protocol, params.host, params.port),
        plan=["dns", "connect", *protocol.plan(params)],
        timeout=params.timeout,
        total_timeout=params.total_timeout,
        secrets=_secrets(params),
    )
    rec.explain = lambda name, exc: _connect_hint(name, exc, params)
    sock = None
    try:
        addresses = resolve(rec, params)
        sock = connect(rec, params, addresses)
        protocol.probe(rec, params, sock)
    except Stop:
        rec.skip_rest()
    finally:
        live = rec.sock() or sock
        if live is not None:
            live.close()
    return rec.finish()


def _secrets(params: ProbeParams) -> list[str]:
    plain = f"\0{params.username}\0{params.password}" if params.password else ""
    oauth = xoauth2.sasl_string(params.username, params.access_token)
    return secret_forms(
        params.password,
        params.access_token,
        plain,
        oauth if params.access_token else "",
    )


def resolve(rec: Recorder, params: ProbeParams) -> list[tuple[Any, ...]]:
    with rec.stage("dns") as stage:
        infos = _getaddrinfo(params.host, params.port, rec.budget())
        stage.detail["addresses"] = sorted({info[4][0] for info in infos})
        stage.reply = ", ".join(stage.detail["addresses"])
        return infos


def _getaddrinfo(host: str, port: int, timeout: float) -> list[tuple[Any, ...]]:
    # getaddrinfo has no timeout of its own; a daemon thread keeps a dead resolver
    # from holding the probe (or the interpreter at exit) hostage.
    answer: queue.Queue[Any] = queue.Queue()

    def lookup() -> None:
        try:
            answer.put(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            answer.put(exc)

    threading.Thread(target=lookup, daemon=True).start()
    try:
        result = answer.get(timeout=timeout)
    except queue.Empty:
        raise TimeoutError(f"no answer from the resolver within {timeout:g} s") from None
    if isinstance(result, Exception):
        raise result
    return result


def connect(rec: Recorder, params: ProbeParams, infos: list[tuple[Any, ...]]) -> socket.socket:
    with rec.stage("connect") as stage:
        error: OSError = OSError("no address")
        for family, kind, proto, _, address in infos:
            sock = socket.socket(family, kind, proto)
            sock.settimeout(rec.budget())
            try:
                sock.connect(address)
            except OSError as exc:
                sock.close()
                error = exc
                continue
            peer = sock.getpeername()
            stage.detail["peer"] = f"{peer[0]}:{peer[1]}"
            stage.reply = f"connected to {stage.detail['peer']}"
            return sock
        raise error


def _connect_hint(name: str, exc: BaseException, params: ProbeParams) -> str:
    where = f"{params.host}:{params.port}"
    if name == "dns":
        if isinstance(exc, socket.gaierror):
            return "Host name not found: check the server name."
        return "The name server did not answer: check the server name and the DNS settings."
    if isinstance(exc, ConnectionRefusedError):
        return f"Nothing is listening on {where}: check the server name and port."
    if isinstance(exc, TimeoutError):
        return (
            f"No answer from {where} within {params.timeout:g} s: check the server name, "
            "the port and any firewall in between."
        )
    if isinstance(exc, OSError) and exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return f"{params.host} cannot be reached from here: check the server name and network."
    return f"Could not connect to {where}: check the server name and port."
