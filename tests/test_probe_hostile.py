"""The probe against servers that misbehave on purpose: echoing secrets, flooding, lying about
the protocol. Each is a few lines of socket code on 127.0.0.1."""

import base64
import binascii
import contextlib
import json
import re
import socket
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, unquote

import pytest

from connections.mail import tls
from connections.mail.probe import ProbeParams, run
from connections.mail.report import Report
from tests.mailservers import Endpoint

# Neither survives percent-encoding unchanged, and neither they nor the SASL strings that
# carry them are a multiple of 3 bytes long: their base64 is padded
USER, PASSWORD = "alice", "correct horse+7!"
TOKEN = "ya29.a0/token+of=forty~characters-longer"


@contextlib.contextmanager
def fake_server(talk: Callable[[socket.socket, "Lines"], None]) -> Iterator[Endpoint]:
    """One connection on a loopback port, handled by `talk` in a thread."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with contextlib.suppress(OSError):
            conn, _ = listener.accept()
            with conn:
                talk(conn, Lines(conn))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield Endpoint("127.0.0.1", listener.getsockname()[1])
    finally:
        listener.close()
        thread.join(5)


class Lines:
    def __init__(self, conn: socket.socket) -> None:
        self.file = conn.makefile("rb")

    def __call__(self) -> bytes:
        line = self.file.readline()
        if not line:
            raise ConnectionResetError("client gone")
        return line.rstrip(b"\r\n")


def smtp_until_auth(conn: socket.socket, read: Lines, offer: bytes = b"PLAIN LOGIN") -> bytes:
    """Greet and answer EHLO; return what the client sent after AUTH <mechanism>, decoded."""
    conn.sendall(b"220 fake ESMTP\r\n")
    read()
    conn.sendall(b"250-fake\r\n250 AUTH " + offer + b"\r\n")
    words = read().split()
    if len(words) > 2:
        return base64.b64decode(words[2])
    conn.sendall(b"334 \r\n")
    return base64.b64decode(read())


def flood(conn: socket.socket, line: bytes) -> None:
    chunk = line * 512
    while True:
        conn.sendall(chunk)


def smtp(server: Endpoint, **options: object) -> ProbeParams:
    values: dict = {
        "auth": "password", "username": USER, "password": PASSWORD,
        "email_address": "alice@example.com", "timeout": 3.0, "total_timeout": 6.0,
    }  # fmt: skip
    values.update(options)
    return ProbeParams("smtp", server.host, server.port, **values)


def imap(server: Endpoint, **options: object) -> ProbeParams:
    return ProbeParams(**{**smtp(server).__dict__, "protocol": "imap", **options})


def recoverable(text: str, secret: str) -> bool:
    """Whether secret can be read back from text: as is, from base64 (any alphabet, padding
    or alignment), hex or percent-encoding."""
    wanted = secret.encode()
    if secret in text or secret in unquote(text):
        return True
    for encoded in re.findall(r"[A-Za-z0-9+/_-]{4,}", text):
        standard = encoded.replace("-", "+").replace("_", "/")
        for skip in range(4):
            part = standard[skip:]
            part = part[: len(part) - 1] if len(part) % 4 == 1 else part
            part += "=" * (-len(part) % 4)
            with contextlib.suppress(binascii.Error, ValueError):
                if wanted in base64.b64decode(part):
                    return True
    for digits in re.findall(r"[0-9A-Fa-f]{8,}", text):
        for skip in range(2):
            part = digits[skip:]
            with contextlib.suppress(ValueError):
                if wanted in bytes.fromhex(part[: len(part) - len(part) % 2]):
                    return True
    return False


def reported(report: Report) -> str:
    return json.dumps(report.to_dict())


# --- Masking: every encoding a server could echo -------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# the secret inside the SASL string lands on every byte alignment of the base64 in these
ECHOES = {
    "unpadded": lambda raw: b64(raw).rstrip("="),
    "inside a longer text": lambda raw: b64(b"<" + raw + b">"),
    "with the command": lambda raw: b64(b"AUTH PLAIN " + raw + b"\r\n"),
    "url-safe": lambda raw: base64.urlsafe_b64encode(b"you:" + raw).decode(),
    "hex": lambda raw: raw.hex(),
    "percent-encoded": lambda raw: quote(raw),
}


@pytest.mark.parametrize("encoding", ECHOES)
def test_a_plain_login_echoed_back_in_any_encoding_is_masked(encoding: str) -> None:
    def talk(conn: socket.socket, read: Lines) -> None:
        raw = smtp_until_auth(conn, read, offer=b"PLAIN")
        conn.sendall(f"535 5.7.8 Refused {ECHOES[encoding](raw)}\r\n".encode())
        read()

    with fake_server(talk) as server:
        report = run(smtp(server))

    assert report.failed_stage.name == "auth"
    assert report.failed_stage.reply.startswith("535 5.7.8 Refused ")
    assert not recoverable(reported(report), PASSWORD)


@pytest.mark.parametrize("encoding", ECHOES)
def test_an_xoauth2_token_echoed_back_in_any_encoding_is_masked(encoding: str) -> None:
    def talk(conn: socket.socket, read: Lines) -> None:
        raw = smtp_until_auth(conn, read, offer=b"XOAUTH2")
        conn.sendall(f"535 5.7.8 Bad token in {ECHOES[encoding](raw)}\r\n".encode())
        read()

    with fake_server(talk) as server:
        report = run(smtp(server, auth="oauth2", password="", access_token=TOKEN))

    assert report.failed_stage.name == "auth"
    assert not recoverable(reported(report), TOKEN)


def test_a_password_that_is_an_ordinary_word_stays_unstarred_in_hints(smtp_starttls) -> None:
    report = run(smtp(smtp_starttls, password="server"))

    assert report.failed_stage.hint == (
        "The server wants STARTTLS before AUTH: turn on Enable STARTTLS."
    )


def test_a_password_that_is_a_word_of_the_apps_own_reply_stays_unstarred_there() -> None:
    def talk(conn: socket.socket, read: Lines) -> None:
        smtp_until_auth(conn, read, offer=b"PLAIN")
        conn.sendall(b"235 welcome\r\n")
        for reply in (b"250 sender ok", b"250 recipient ok", b"354 go ahead"):
            read()
            conn.sendall(reply + b"\r\n")
        read()

    with fake_server(talk) as server:
        report = run(smtp(server, password="message"))

    assert report.ok
    assert report.stage("abort").reply == (
        "Closed inside DATA, before the end of the message: nothing was sent."
    )


def test_a_port_named_password_stays_unstarred_in_the_tls_hint(smtp_plain, mail_ca_file) -> None:
    report = run(smtp(smtp_plain, ssl=True, ca_file=mail_ca_file, password="port"))

    assert report.failed_stage.name == "tls"
    assert "port 587/25 expect STARTTLS" in report.failed_stage.hint


def test_server_sent_folder_names_are_masked_inside_a_hint_and_its_own_words_are_not() -> None:
    def talk(conn: socket.socket, read: Lines) -> None:
        conn.sendall(b"* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] fake\r\n")
        while True:
            tag, command, *_ = [*read().split(b" "), b""]
            if command.upper() == b"CAPABILITY":
                conn.sendall(b"* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n" + tag + b" OK done\r\n")
            elif command.upper() == b"LIST":
                conn.sendall(
                    b'* LIST () "/" INBOX\r\n* LIST (\\Trash) "/" "Bin existing"\r\n'
                    + tag + b" OK done\r\n"
                )  # fmt: skip
            else:
                conn.sendall(tag + b" OK done\r\n")

    with fake_server(talk) as server:
        report = run(imap(server, password="existing", trash_folder="Deleted"))

    assert report.failed_stage.name == "trash_folder"
    assert report.failed_stage.hint == (
        "Folder 'Deleted' does not exist; existing folders: Bin ********, INBOX. "
        "The server marks 'Bin ********' as its trash folder."
    )


# --- Bounded reads: a flooding server fails a stage, in bounded time and memory -------------


def probe_measured(params: ProbeParams) -> tuple[Report, float, int]:
    """The report, the seconds it took and the peak memory traced while it ran."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        report = run(params)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return report, time.monotonic() - started, peak


MEGABYTE = 1024 * 1024


def test_endless_ehlo_lines_fail_the_ehlo_stage_with_memory_flat() -> None:
    def talk(conn: socket.socket, read: Lines) -> None:
        conn.sendall(b"220 fake ESMTP\r\n")
        read()
        flood(conn, b"250-" + b"X" * 70 + b"\r\n")

    with fake_server(talk) as server:
        report, seconds, peak = probe_measured(smtp(server))

    assert report.failed_stage.name == "ehlo"
    assert report.failed_stage.hint.startswith(
        "The server sent more than 64 KiB during EHLO: this is not a well-behaved SMTP server"
    )
    assert seconds < 2
    assert peak < 3 * MEGABYTE


def test_endless_untagged_imap_lines_fail_the_greeting_with_memory_flat() -> None:
    def talk(conn: socket.socket, read: Lines) -> None:
        conn.sendall(b"* OK fake IMAP\r\n")
        read()
        flood(conn, b"* OK " + b"Y" * 70 + b"\r\n")

    with fake_server(talk) as server:
        report, seconds, peak = probe_measured(imap(server))

    assert report.failed_stage.name == "greeting"
    assert report.failed_stage.hint.startswith(
        "The server sent more than 64 KiB during Greeting: this is not a well-behaved IMAP"
    )
    assert seconds < 2
    assert peak < 3 * MEGABYTE


def test_an_endless_literal_is_refused_before_it_is_read() -> None:
    def talk(conn: socket.socket, read: Lines) -> None:
        conn.sendall(b"* OK fake IMAP\r\n")
        read()
        conn.sendall(b"* CAPABILITY IMAP4rev1 {1000000000}\r\n")
        flood(conn, b"Z" * 80)

    with fake_server(talk) as server:
        report, seconds, peak = probe_measured(imap(server))

    assert report.failed_stage.name == "greeting"
    assert "more than 64 KiB during Greeting" in report.failed_stage.hint
    assert seconds < 2
    assert peak < 3 * MEGABYTE


@pytest.mark.parametrize("protocol", ["smtp", "imap"])
def test_a_100_kb_greeting_line_fails_the_greeting_with_a_hint(protocol: str) -> None:
    def talk(conn: socket.socket, read: Lines) -> None:
        start = b"220 " if protocol == "smtp" else b"* OK "
        with contextlib.suppress(OSError):
            conn.sendall(start + b"W" * 100_000 + b"\r\n")
        with contextlib.suppress(OSError):
            read()

    with fake_server(talk) as server:
        params = smtp(server) if protocol == "smtp" else imap(server)
        report, seconds, peak = probe_measured(params)

    line = "8 KiB" if protocol == "smtp" else "64 KiB"
    assert report.failed_stage.name == "greeting"
    assert report.failed_stage.hint == (
        f"The server sent a line longer than {line} during Greeting: this is not a well-behaved "
        f"{protocol.upper()} server. Check the server name and port."
    )
    assert seconds < 2
    assert peak < 3 * MEGABYTE


def test_a_server_chatty_in_every_stage_stops_at_the_limit_of_the_whole_test() -> None:
    chatter = b"".join(b"250-" + b"C" * 76 + b"\r\n" for _ in range(750))  # 60 000 bytes

    def talk(conn: socket.socket, read: Lines) -> None:
        conn.sendall(chatter.replace(b"250-", b"220-") + b"220 fake\r\n")
        while True:
            command = read().upper()
            code = b"354" if command == b"DATA" else b"250"
            conn.sendall(chatter.replace(b"250-", code + b"-") + code + b" ok\r\n")

    with fake_server(talk) as server:
        report, _, peak = probe_measured(smtp(server, auth="none"))

    assert [s.status for s in report.stages][2:6] == ["ok", "ok", "skipped", "ok"]
    assert report.failed_stage.name == "data"
    assert report.failed_stage.hint.startswith(
        "The server sent more than 256 KiB in this test (the limit was reached during DATA)"
    )
    assert peak < 3 * MEGABYTE


def imap_listing(folders: int) -> Callable[[socket.socket, Lines], None]:
    """A server whose LIST names that many folders of 64 characters (~90 bytes a line)."""

    def talk(conn: socket.socket, read: Lines) -> None:
        conn.sendall(b"* OK [CAPABILITY IMAP4rev1] fake\r\n")
        while True:
            tag, command, *_ = read().split(b" ")
            if command.upper() == b"LIST":
                for number in range(folders):
                    conn.sendall(b'* LIST () "/" "Projects/%058d"\r\n' % number)
            reply = b"* CAPABILITY IMAP4rev1\r\n" if command.upper() == b"CAPABILITY" else b""
            conn.sendall(reply + tag + b" OK done\r\n")

    return talk


def test_a_long_folder_list_is_read_up_to_its_own_larger_limit() -> None:
    with fake_server(imap_listing(1500)) as server:
        report = run(imap(server))
    assert report.ok
    assert report.stage("list").detail["count"] == 1500

    with fake_server(imap_listing(2500)) as server:
        report = run(imap(server))
    assert report.failed_stage.name == "list"
    assert "more than 192 KiB during Folders" in report.failed_stage.hint


# --- Another protocol on the port ------------------------------------------------------------


def test_an_imap_test_against_an_smtp_port_says_so(smtp_plain) -> None:
    report = run(imap(smtp_plain))

    assert report.failed_stage.name == "greeting"
    assert report.failed_stage.reply.startswith("220 ")
    assert report.failed_stage.hint == (
        "This port answered like an SMTP server, not IMAP: check the port "
        "(IMAP uses 143, or 993 with Enable SSL)."
    )


def test_an_smtp_test_against_an_imap_port_says_so(imap_server) -> None:
    report = run(smtp(imap_server))

    assert report.failed_stage.name == "greeting"
    assert report.failed_stage.reply.startswith("* OK ")
    assert report.failed_stage.hint == (
        "This port answered like an IMAP server, not SMTP: check the port "
        "(SMTP uses 25 or 587, or 465 with Enable SSL)."
    )


# --- One TLS context per trust configuration ------------------------------------------------


@pytest.fixture
def fresh_contexts() -> None:
    tls._context.cache_clear()


def test_two_tls_probes_share_one_context(fresh_contexts, smtp_ssl, mail_ca_file) -> None:
    login = {"username": smtp_ssl.user, "password": smtp_ssl.password}
    assert run(smtp(smtp_ssl, ssl=True, ca_file=mail_ca_file, **login)).ok
    assert run(smtp(smtp_ssl, ssl=True, ca_file=mail_ca_file, **login)).ok

    cached = tls._context.cache_info()
    assert (cached.misses, cached.hits) == (1, 1)
    assert tls.context(mail_ca_file) is tls.context(mail_ca_file)


def test_a_changed_ca_bundle_gives_a_new_context(fresh_contexts, tmp_path, mail_ca_file) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(Path(mail_ca_file).read_bytes())
    first = tls.context(str(bundle))

    bundle.write_bytes(bundle.read_bytes() + b"\n")

    assert tls.context(str(bundle)) is not first
    assert tls.context(mail_ca_file) is not first


def test_a_plain_probe_builds_no_tls_context(fresh_contexts, smtp_plain, mail_ca_file) -> None:
    params = smtp(smtp_plain, username=smtp_plain.user, password=smtp_plain.password)

    assert run(ProbeParams(**{**params.__dict__, "ca_file": mail_ca_file})).ok

    assert tls._context.cache_info().currsize == 0


# --- Passwords beyond ASCII ---------------------------------------------------------------

UMLAUTS = "pässwörd-ÿ"


def test_an_smtp_password_beyond_ascii_logs_in_as_utf8() -> None:
    def talk(conn: socket.socket, read: Lines) -> None:
        raw = smtp_until_auth(conn, read, offer=b"PLAIN")
        conn.sendall(b"235 ok\r\n" if raw == f"\0alice\0{UMLAUTS}".encode() else b"535 no\r\n")
        for reply in (b"250 sender ok", b"250 recipient ok", b"354 go ahead"):
            read()
            conn.sendall(reply + b"\r\n")
        read()

    with fake_server(talk) as server:
        report = run(smtp(server, password=UMLAUTS))

    assert report.ok


def test_an_imap_password_beyond_ascii_is_sent_as_a_literal() -> None:
    def talk(conn: socket.socket, read: Lines) -> None:
        conn.sendall(b"* OK [CAPABILITY IMAP4rev1] fake\r\n")
        while True:
            tag, command, *rest = read().split(b" ")
            if command.upper() == b"CAPABILITY":
                conn.sendall(b"* CAPABILITY IMAP4rev1\r\n" + tag + b" OK done\r\n")
            elif command.upper() == b"LOGIN":
                size = int(rest[-1].strip(b"{}"))
                conn.sendall(b"+ go on\r\n")
                password = read.file.read(size)
                read()
                right = rest[0] == b'"alice"' and password == UMLAUTS.encode()
                conn.sendall(tag + (b" OK in\r\n" if right else b" NO wrong\r\n"))
            else:
                conn.sendall(tag + b" OK done\r\n")

    with fake_server(talk) as server:
        report = run(imap(server, password=UMLAUTS))

    assert report.ok


def test_a_refused_password_beyond_ascii_never_shows_a_character_of_it(imap_server) -> None:
    report = run(imap(imap_server, password="wrong-ÿ"))

    assert report.failed_stage.name == "auth"
    assert report.failed_stage.hint == "Authentication rejected: check User Name and Password."
    assert not re.search(r"ÿ|u00ff|xff", reported(report))  # as is, JSON-escaped, repr()
