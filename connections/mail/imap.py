"""IMAP stages of the probe: greeting, TLS, CAPABILITY, login, LIST, the Trash Folder."""

from __future__ import annotations

import base64
import contextlib
import imaplib
import re
import socket
import ssl
from typing import TYPE_CHECKING, Any

from connections.mail import tls, xoauth2
from connections.mail.report import Failed, Own, Recorder

if TYPE_CHECKING:
    from connections.mail.probe import ProbeParams

STARTTLS_PORTS = "143"
PORTS = "143, or 993 with Enable SSL"
# imaplib allows lines of 1 MB; a long CAPABILITY or LIST line is a few KiB
MAX_LINE = 64 * 1024
NOT_IMAP = "The server did not greet as an IMAP server: check the port."
LIST_LINE = re.compile(rb'\((?P<flags>[^)]*)\) (?P<delimiter>"(?:[^"\\]|\\.)*"|NIL) (?P<name>.*)')


def plan(params: ProbeParams) -> list[str]:
    stages = ["tls"] if params.ssl else []
    stages.append("greeting")
    if params.starttls:
        stages.append("tls")
    return [*stages, "capability", "auth", "list", "trash_folder"]


class Client(imaplib.IMAP4):
    """imaplib on a socket the probe connected itself, so every step is timed on its own.

    Every line and literal read is counted by the recorder, which stops a server that sends
    too much.
    """

    def __init__(self, sock: socket.socket, host: str, rec: Recorder) -> None:
        self._connected = sock
        self.rec = rec
        self.first_line = b""
        try:
            super().__init__(host, sock.getpeername()[1])  # reads the greeting, asks CAPABILITY
        except imaplib.IMAP4.error as exc:
            line = self.first_line
            if line.startswith(b"* BYE"):
                raise Failed(_text(line).strip(), "The server refused the session.") from exc
            if line and not line.startswith(b"* "):
                hint = tls.wrong_protocol_hint(line, "IMAP", PORTS)
                raise Failed(_text(line).strip(), hint or NOT_IMAP) from exc
            raise

    def readline(self) -> bytes:
        line = self.file.readline(MAX_LINE + 1)
        self.rec.received(len(line), line_limit=MAX_LINE)
        if not self.first_line:
            self.first_line = line
        return line

    def read(self, size: int) -> bytes:
        # a literal announces its size: refuse it before reading, not after
        self.rec.received(size)
        return self.file.read(size)

    def open(self, host: str = "", port: int = 0, timeout: float | None = None) -> None:
        # imaplib documents open() as the hook for bringing one's own transport
        self.host, self.port = host, port
        self.sock = self._connected
        self.file = self.sock.makefile("rb")

    def tls_active(self) -> bool:
        return isinstance(self.sock, ssl.SSLSocket)


def probe(rec: Recorder, params: ProbeParams, sock: socket.socket) -> None:
    live: dict[str, Any] = {"sock": sock, "client": None}
    rec.arm(lambda: live["client"].sock if live["client"] else live["sock"])
    rec.explain = lambda name, exc: _explain(name, exc, params)
    if params.ssl:
        with rec.stage("tls") as stage:
            context = tls.context(params.ca_file)
            sock = live["sock"] = context.wrap_socket(sock, server_hostname=params.host)
            stage.detail.update(tls.details(sock))
            stage.reply = f"{stage.detail['version']}, {stage.detail['subject']}"
    with rec.stage("greeting") as stage:
        client = live["client"] = Client(sock, params.host, rec)
        stage.reply = _text(client.welcome)
        stage.detail["capabilities"] = list(client.capabilities)
    try:
        if params.starttls:
            starttls(rec, client, params)
        capability(rec, client)
        authenticate(rec, client, params)
        names = folders(rec, client)
        trash_folder(rec, params, names)
    finally:
        _close(client, rec)


def _close(client: Client, rec: Recorder) -> None:
    # a polite LOGOUT, but after a timeout the server gets one short second, not a stage's worth;
    # a server that sent too much is not read again
    with contextlib.suppress(imaplib.IMAP4.error, OSError, Failed):
        if not rec.overflowed:
            client.sock.settimeout(min(1.0, rec.budget()))
            client.logout()
    with contextlib.suppress(OSError):
        client.shutdown()


def starttls(rec: Recorder, client: Client, params: ProbeParams) -> None:
    with rec.stage("tls") as stage:
        if "STARTTLS" not in client.capabilities:
            raise Failed(
                Own("STARTTLS is not in the CAPABILITY reply"),
                f"The server does not offer STARTTLS on port {params.port}: turn off Enable "
                "STARTTLS, or use port 993 with Enable SSL.",
            )
        typ, data = client.starttls(tls.context(params.ca_file))
        stage.reply = f"{typ} {_text(data[-1])}"
        assert isinstance(client.sock, ssl.SSLSocket)
        stage.detail.update(tls.details(client.sock))


def capability(rec: Recorder, client: Client) -> None:
    with rec.stage("capability") as stage:
        _, data = client.capability()
        stage.reply = f"CAPABILITY {_text(data[-1])}"
        client.capabilities = tuple(_text(data[-1]).upper().split())
        stage.detail.update(
            capabilities=list(client.capabilities),
            auth_mechanisms=[c[5:] for c in client.capabilities if c.startswith("AUTH=")],
            starttls="STARTTLS" in client.capabilities,
            tls=client.tls_active(),
        )


def authenticate(rec: Recorder, client: Client, params: ProbeParams) -> None:
    with rec.stage("auth") as stage:
        if params.auth not in ("password", "oauth2"):
            raise Failed("", "Reading a mailbox needs a login: choose Password or OAuth 2.0.")
        if params.auth == "oauth2":
            stage.detail["mechanism"] = "XOAUTH2"
            if "AUTH=XOAUTH2" not in client.capabilities:
                reply = Own("AUTH=XOAUTH2 is not in the CAPABILITY reply")
                raise Failed(reply, _no_auth_hint(rec, client))
            exchange = xoauth2.Exchange(params.username, params.access_token)
            try:
                typ, data = client.authenticate("XOAUTH2", exchange.as_bytes())
            except imaplib.IMAP4.error as exc:
                stage.detail["error"] = exchange.error
                raise Failed(f"NO {_text(exc.args[0])}", _refused_hint(params)) from exc
        else:
            stage.detail["mechanism"] = "LOGIN"
            if "LOGINDISABLED" in client.capabilities:
                reply = Own("LOGINDISABLED is in the CAPABILITY reply")
                raise Failed(reply, _no_auth_hint(rec, client))
            try:
                typ, data = login(client, params.username, params.password)
            except imaplib.IMAP4.error as exc:
                raise Failed(f"NO {_text(exc.args[0])}", _refused_hint(params)) from exc
        stage.reply = f"{typ} {_text(data[-1])}"


def login(client: Client, username: str, password: str) -> tuple[str, list[Any]]:
    if password.isascii():
        # imaplib quotes the password but sends the user name as it is
        return client.login(_quoted(username), password)
    # 8-bit text cannot be quoted (RFC 3501, 4.3): the password goes as a literal, in UTF-8
    client.literal = password.encode()
    typ, data = client._simple_command("LOGIN", _quoted(username))
    if typ != "OK":
        raise client.error(data[-1])
    client.state = "AUTH"
    return typ, data


def _no_auth_hint(rec: Recorder, client: Client) -> str:
    if not client.tls_active() and "STARTTLS" in client.capabilities:
        return "The server wants STARTTLS before login: turn on Enable STARTTLS."
    mechanisms = rec.scrub(", ".join(c[5:] for c in client.capabilities if c.startswith("AUTH=")))
    return f"The server does not offer this login method; it offers {mechanisms or 'none'}."


def _refused_hint(params: ProbeParams) -> str:
    if params.auth == "oauth2":
        return "Authentication rejected: the access token was refused: Reauthorize the connection."
    return "Authentication rejected: check User Name and Password."


def folders(rec: Recorder, client: Client) -> dict[str, list[str]]:
    """Every folder name, decoded, with its flags (\\Trash marks the special-use trash)."""
    with rec.stage("list") as stage:
        typ, data = client.list()
        if typ != "OK":
            raise Failed(f"{typ} {_text(data[-1])}", "The server refused to list the folders.")
        names = dict(_parse_list(item) for item in data if item)
        stage.reply = Own(f"{typ}: {len(names)} folders")
        stage.detail.update(count=len(names), folders=sorted(names))
        return names


def _parse_list(item: bytes | tuple[bytes, bytes]) -> tuple[str, list[str]]:
    # a name with odd characters comes as a literal: (b'(flags) "/" {11}', b'Odd "name"')
    head, literal = item if isinstance(item, tuple) else (item, None)
    match = LIST_LINE.match(head)
    if match is None:
        return _text(head), []
    name = literal if literal is not None else match["name"]
    if name.startswith(b'"') and name.endswith(b'"'):
        name = re.sub(rb"\\(.)", rb"\1", name[1:-1])
    return decode_utf7(name.decode(errors="replace")), _text(match["flags"]).split()


def decode_utf7(name: str) -> str:
    """IMAP folder names are modified UTF-7 (RFC 3501, 5.1.3): "Gel&APY-schte" is "Gelöschte"."""

    def chunk(match: re.Match[str]) -> str:
        encoded = match[1]
        if not encoded:
            return "&"
        padded = encoded.replace(",", "/") + "=" * (-len(encoded) % 4)
        return base64.b64decode(padded).decode("utf-16-be")

    return re.sub(r"&([A-Za-z0-9+,]*)-", chunk, name)


def trash_folder(rec: Recorder, params: ProbeParams, names: dict[str, list[str]]) -> None:
    wanted = params.trash_folder
    if not wanted:
        rec.skip("trash_folder", "Not applicable: no Trash Folder is set.")
        return
    with rec.stage("trash_folder") as stage:
        stage.detail["folder"] = wanted
        if wanted in names:
            stage.detail["flags"] = names[wanted]
            stage.reply = Own(f"{wanted} exists")
            return
        existing = rec.scrub(", ".join(sorted(names)))
        hint = f"Folder '{wanted}' does not exist; existing folders: {existing}."
        marked = [name for name, flags in names.items() if "\\Trash" in flags]
        if marked:
            hint += f" The server marks '{rec.scrub(marked[0])}' as its trash folder."
        raise Failed(Own(f"{wanted} is not in the LIST reply"), hint)


def _quoted(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _text(value: bytes | str | None) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value or ""


def _explain(name: str, exc: BaseException, params: ProbeParams) -> str:
    """Hints for the failures that arrive as exceptions rather than as replies."""
    shared = tls.connection_hint(name, exc, params, 993, STARTTLS_PORTS, closed=imaplib.IMAP4.abort)
    if shared:
        return shared
    if name == "greeting":
        return NOT_IMAP
    return ""
