"""Real mail servers on 127.0.0.1 for the tests: aiosmtpd (SMTP) and a rootless Dovecot (IMAP).

Loaded as a pytest plugin (`pytest_plugins = ["tests.mailservers"]`). Every account is
alice / s3cret; XOAUTH2 takes the token tok-123 (SMTP user alice@example.com, IMAP user alice).
`smtp_oauth` and `imap_oauth` accept XOAUTH2 only, for a bearer token that is active at the
app's own /o/introspect/ (live_server) and belongs to the XOAUTH2 user.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime
import email
import email.policy
import grp
import imaplib
import ipaddress
import json
import os
import pwd
import shutil
import socket
import ssl
import string
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

HOST = "127.0.0.1"
USER, PASSWORD = "alice", "s3cret"
OAUTH_USER, TOKEN = "alice@example.com", "tok-123"
DOVECOT = "/usr/sbin/dovecot"

# The introspecting servers below check tokens at this app's own /o/introspect/.
pytest_plugins = ["tests.oauth_provider"]


def pytest_configure(config: pytest.Config) -> None:
    # aiosmtpd warns on every implicit-TLS connection that AUTH is allowed "without TLS";
    # it cannot see that the socket is TLS from the first byte (toolchain notes, 4.3)
    config.addinivalue_line(
        "filterwarnings", "ignore:Requiring AUTH while not requiring TLS:UserWarning"
    )


def free_port() -> int:
    # aiosmtpd's Controller(port=0) fails its own ready check, so pick the port here
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class Cert:
    cert: str
    key: str


@pytest.fixture(scope="session")
def mail_cert(tmp_path_factory: pytest.TempPathFactory) -> Cert:
    """A self-signed certificate for localhost and 127.0.0.1, trusted by nothing but itself."""
    folder = tmp_path_factory.mktemp("mailcert")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]
            ),
            critical=False,
        )
        # being its own CA, it needs the extensions a strict verifier (Python 3.13+) asks of one
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return Cert(str(cert_path), str(key_path))


@pytest.fixture(scope="session")
def mail_ca_file(mail_cert: Cert) -> str:
    """The path to pass as ca_file so that the test servers' certificate verifies."""
    return mail_cert.cert


# --- SMTP: aiosmtpd ---------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    auth_user: str


@dataclass
class SmtpServer:
    host: str
    port: int
    cert: str
    messages: list[Received] = field(default_factory=list)
    user: str = USER
    password: str = PASSWORD
    oauth_user: str = OAUTH_USER
    token: str = TOKEN


class Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        login = session.auth_data.login.decode() if session.auth_data else ""
        self.server.messages.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), message, login)
        )
        return "250 OK"

    # aiosmtpd advertises and calls any auth_<MECHANISM> method of the handler
    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> AuthResult:
        if len(args) == 1:
            raw = await server.challenge_auth("")
            if raw is MISSING:
                return AuthResult(success=False, handled=False)
        else:
            raw = base64.b64decode(args[1])
        parts = dict(p.split("=", 1) for p in raw.decode().split("\x01") if "=" in p)
        user, token = parts.get("user", ""), parts.get("auth", "").removeprefix("Bearer ")
        if user == OAUTH_USER and token == TOKEN:
            return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""))
        # like Gmail: an error challenge first, the refusal after the client's empty answer
        await server.challenge_auth(json.dumps({"status": "401", "schemes": "Bearer"}))
        # handled=False, or aiosmtpd sends no reply at all and the client hangs (notes, 4.2)
        return AuthResult(success=False, handled=False, message="535 5.7.8 XOAUTH2 token invalid")


def authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = auth_data.login.decode() == USER and auth_data.password.decode() == PASSWORD
    return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


def _server_context(cert: Cert) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert.cert, cert.key)
    return context


@pytest.fixture(scope="session")
def _smtp_servers(mail_cert: Cert) -> Iterator[dict[str, SmtpServer]]:
    tls_context = _server_context(mail_cert)
    kinds: dict[str, dict[str, Any]] = {
        "plain": {"auth_require_tls": False},
        "starttls": {
            "auth_require_tls": True,
            "require_starttls": True,
            "tls_context": tls_context,
        },
        "ssl": {"auth_require_tls": False, "ssl_context": tls_context},
    }
    servers, controllers = {}, []
    for kind, options in kinds.items():
        server = SmtpServer(HOST, free_port(), mail_cert.cert)
        controller = Controller(
            Handler(server),
            hostname=HOST,
            port=server.port,
            server_hostname="localhost",  # otherwise aiosmtpd calls the slow socket.getfqdn()
            authenticator=authenticator,
            auth_required=True,
            **options,
        )
        controller.start()
        servers[kind] = server
        controllers.append(controller)
    yield servers
    for controller in controllers:
        controller.stop()


@pytest.fixture
def smtp_plain(_smtp_servers: dict[str, SmtpServer]) -> SmtpServer:
    """SMTP without TLS; AUTH is allowed in the clear."""
    return _fresh(_smtp_servers["plain"])


@pytest.fixture
def smtp_starttls(_smtp_servers: dict[str, SmtpServer]) -> SmtpServer:
    """SMTP that refuses everything but EHLO before STARTTLS, and offers AUTH only after it."""
    return _fresh(_smtp_servers["starttls"])


@pytest.fixture
def smtp_ssl(_smtp_servers: dict[str, SmtpServer]) -> SmtpServer:
    """SMTPS: TLS from the first byte."""
    return _fresh(_smtp_servers["ssl"])


def _fresh(server: SmtpServer) -> SmtpServer:
    server.messages.clear()
    return server


# --- Servers that misbehave -------------------------------------------------------------


@dataclass
class Endpoint:
    host: str
    port: int


@pytest.fixture
def silent_server() -> Iterator[Endpoint]:
    """Accepts connections and never says a word."""
    listener = socket.create_server((HOST, 0))
    accepted: list[socket.socket] = []

    def accept() -> None:
        with contextlib.suppress(OSError):  # the listener is closed at teardown
            while True:
                accepted.append(listener.accept()[0])

    threading.Thread(target=accept, daemon=True).start()
    yield Endpoint(HOST, listener.getsockname()[1])
    listener.close()
    for conn in accepted:
        conn.close()


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on."""
    return free_port()


# --- IMAP: Dovecot, rootless --------------------------------------------------------------

DOVECOT_CONF = string.Template("""\
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
protocols = imap
listen = 127.0.0.1
default_internal_user = $user
default_internal_group = $group
default_login_user = $user
ssl = yes
ssl_cert = <$dir/cert.pem
ssl_key = <$dir/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
# with the anvil penalty listener off, a failed login costs ~0.5 s instead of 2, 4, 8, 15 s
auth_failure_delay = 0
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $ssl_port
    ssl = yes
  }
}
service anvil {
  chroot =
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dir/passwd
  mechanisms = plain login
}
# Dovecot checks an XOAUTH2 bearer token like a password: a second passwd-file holds them
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $dir/tokens
  mechanisms = xoauth2 oauthbearer
}
userdb {
  driver = static
  args = uid=$user gid=$group home=$dir/home/%u
}
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  separator = /
}
""")


@dataclass
class ImapServer:
    host: str
    port: int  # plain, STARTTLS offered
    ssl_port: int  # IMAPS
    cert: str
    user: str = USER
    password: str = PASSWORD
    oauth_user: str = USER
    token: str = TOKEN
    trash: str = "Trash"  # exists
    missing: str = "Deleted Items"  # does not


@pytest.fixture(scope="session")
def imap_server(mail_cert: Cert) -> Iterator[ImapServer]:
    """A Dovecot of its own on two free loopback ports, stopped with doveadm at the end."""
    if not os.path.exists(DOVECOT):
        pytest.fail(f"{DOVECOT} is missing: apt-get install -y dovecot-imapd", pytrace=False)
    server = ImapServer(HOST, free_port(), free_port(), mail_cert.cert)
    # pytest's own tmp dirs are 0700 under root, and Dovecot runs as nobody
    folder = Path(tempfile.mkdtemp(prefix="dovecot-"))
    folder.chmod(0o755)
    as_user = pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() else "nobody"
    group = grp.getgrgid(pwd.getpwnam(as_user).pw_gid).gr_name
    (folder / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
    (folder / "tokens").write_text(f"{USER}:{{PLAIN}}{TOKEN}::::::\n")
    shutil.copy(mail_cert.cert, folder / "cert.pem")
    shutil.copy(mail_cert.key, folder / "key.pem")
    conf = folder / "dovecot.conf"
    conf.write_text(
        DOVECOT_CONF.substitute(
            dir=folder, user=as_user, group=group, port=server.port, ssl_port=server.ssl_port
        )
    )
    for sub in ("run", "state", "home"):  # base_dir starts empty: a stale socket costs 5 s
        (folder / sub).mkdir()
    shutil.chown(folder, as_user, group)
    for path in folder.rglob("*"):
        shutil.chown(path, as_user, group)
    run_as = ["runuser", "-u", as_user, "--"] if os.geteuid() == 0 else []
    # stdio must not be a pipe: the daemon would hold it open and hang whoever reads it
    with open(folder / "start.log", "wb") as log:
        started = subprocess.run(
            [*run_as, DOVECOT, "-c", str(conf)], stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
    try:
        if started.returncode != 0 or not _wait_for_port(server.port):
            pytest.fail(f"Dovecot did not start:\n{_logs(folder)}", pytrace=False)
        _create_folder(server, server.trash)
        yield server
    finally:
        subprocess.run(
            [*run_as, "doveadm", "-c", str(conf), "stop"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(folder, ignore_errors=True)


def _wait_for_port(port: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
            return True
        time.sleep(0.05)
    return False


def _logs(folder: Path) -> str:
    return "\n".join(
        path.read_text(errors="replace")
        for path in (folder / "start.log", folder / "dovecot.log")
        if path.exists()
    )


def _create_folder(server: ImapServer, name: str) -> None:
    client = imaplib.IMAP4(server.host, server.port, timeout=10)
    try:
        client.login(server.user, server.password)
        client.create(name)
    finally:
        client.logout()


# --- XOAUTH2 checked at this app's own OAuth server (live_server /o/introspect/) -----------


@dataclass
class OAuthSmtpServer:
    host: str
    port: int
    introspection: Any  # tests.oauth_provider.Introspection
    messages: list[Received] = field(default_factory=list)
    # One entry per AUTH: the XOAUTH2 user and what /o/introspect/ said of the token.
    checks: list[dict[str, Any]] = field(default_factory=list)


def introspect(introspection: Any, token: str) -> dict[str, Any]:
    """RFC 7662 introspection as a resource server (HTTP Basic); {} when it cannot say."""
    try:
        response = requests.post(
            introspection.url,
            data={"token": token},
            auth=(introspection.client_id, introspection.client_secret),
            timeout=5,
        )
        return response.json() if response.status_code == 200 else {}
    except (requests.RequestException, ValueError):
        return {}


def xoauth2_fields(raw: bytes) -> tuple[str, str]:
    """(user, bearer token) of an XOAUTH2 initial response: user=..^Aauth=Bearer ..^A^A"""
    parts = dict(p.split("=", 1) for p in raw.decode(errors="replace").split("\x01") if "=" in p)
    auth = parts.get("auth", "")
    return parts.get("user", ""), auth[7:] if auth.lower().startswith("bearer ") else ""


class IntrospectingHandler:
    """XOAUTH2 only, for a token active at /o/introspect/ whose username is the XOAUTH2 user.

    No other member may be named auth_*: aiosmtpd would offer it as a mechanism.
    """

    def __init__(self, server: OAuthSmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        login = session.auth_data.login.decode() if session.auth_data else ""
        self.server.messages.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), message, login)
        )
        return "250 OK"

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> AuthResult:
        if len(args) == 1:
            raw = await server.challenge_auth("")
            if raw is MISSING:
                return AuthResult(success=False, handled=False)
        else:
            try:
                raw = base64.b64decode(args[1], validate=True)
            except binascii.Error:
                await server.push("501 5.5.2 Can't decode base64")
                return AuthResult(success=False, handled=True)
        user, token = xoauth2_fields(raw)
        # introspection is a blocking HTTP call: keep it off the server's event loop
        info = (
            await asyncio.to_thread(introspect, self.server.introspection, token) if token else {}
        )
        self.server.checks.append(
            {"user": user, "active": info.get("active") is True, "username": info.get("username")}
        )
        if info.get("active") is True and user and info.get("username") == user:
            return AuthResult(success=True, auth_data=LoginPassword(user.encode(), b""))
        await server.challenge_auth(
            json.dumps({"status": "401", "schemes": "Bearer", "scope": "email"})
        )
        return AuthResult(
            success=False, handled=False, message="535 5.7.8 Username and Password not accepted"
        )


@pytest.fixture(scope="session")
def _smtp_oauth_server(introspection: Any) -> Iterator[OAuthSmtpServer]:
    server = OAuthSmtpServer(HOST, free_port(), introspection)
    controller = Controller(
        IntrospectingHandler(server),
        hostname=HOST,
        port=server.port,
        server_hostname="localhost",
        auth_required=True,
        auth_require_tls=False,  # loopback only
        auth_exclude_mechanism=["LOGIN", "PLAIN"],
    )
    controller.start()
    yield server
    controller.stop()


@pytest.fixture
def smtp_oauth(_smtp_oauth_server: OAuthSmtpServer, introspection_client: Any) -> OAuthSmtpServer:
    """Plain SMTP offering AUTH XOAUTH2 only, checked at the live server's /o/introspect/."""
    _smtp_oauth_server.messages.clear()
    _smtp_oauth_server.checks.clear()
    return _smtp_oauth_server


DOVECOT_OAUTH_CONF = string.Template("""\
base_dir = $dir/run
state_dir = $dir/state
log_path = $dir/dovecot.log
protocols = imap
listen = 127.0.0.1
default_internal_user = $user
default_internal_group = $group
default_login_user = $user
ssl = no
disable_plaintext_auth = no
auth_mechanisms = xoauth2 oauthbearer
auth_failure_delay = 0
auth_verbose = yes
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    port = 0
  }
}
# rootless: every service that chroots by default must not
service imap {
  chroot =
}
service anvil {
  chroot =
  unix_listener anvil-auth-penalty {
    mode = 0
  }
}
service ipc {
  chroot =
}
service old-stats {
  chroot =
}
service aggregator {
  chroot =
}
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = $dir/dovecot-oauth2.conf.ext
}
userdb {
  driver = static
  args = uid=$user gid=$group home=$dir/home/%u
}
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  separator = /
}
""")

# DOT answers the Django username ("username"), not the email Dovecot looks for by default.
DOVECOT_OAUTH2_EXT = string.Template("""\
introspection_mode = post
introspection_url = $url
username_attribute = username
active_attribute = active
active_value = true
force_introspection = yes
timeout_msecs = 5000
""")


@dataclass
class OAuthImapServer:
    host: str
    port: int
    folder: Path
    owner: str  # the system user Dovecot runs as
    trash: str = "Trash"

    def log(self) -> str:
        return _logs(self.folder)

    def make_mailbox(self, user: str) -> None:
        """An INBOX and a Trash folder (Maildir++: .Trash) for `user`, as Dovecot's own user."""
        maildir = self.folder / "home" / user.lower() / "Maildir"
        for box in (maildir, maildir / f".{self.trash}"):
            for sub in ("cur", "new", "tmp"):
                (box / sub).mkdir(parents=True, exist_ok=True)
        for path in [maildir.parent, *maildir.parent.rglob("*")]:
            shutil.chown(path, self.owner)


@pytest.fixture(scope="session")
def _imap_oauth_server(introspection: Any) -> Iterator[OAuthImapServer]:
    if not os.path.exists(DOVECOT):
        pytest.fail(f"{DOVECOT} is missing: apt-get install -y dovecot-imapd", pytrace=False)
    folder = Path(tempfile.mkdtemp(prefix="dovecot-oauth-"))
    folder.chmod(0o700)  # it holds the introspection secret
    as_user = pwd.getpwuid(os.geteuid()).pw_name if os.geteuid() else "nobody"
    server = OAuthImapServer(HOST, free_port(), folder, as_user)
    group = grp.getgrgid(pwd.getpwnam(as_user).pw_gid).gr_name
    split = urlsplit(introspection.url)
    url = split._replace(
        netloc=f"{introspection.client_id}:{introspection.client_secret}@{split.netloc}"
    ).geturl()
    (folder / "dovecot-oauth2.conf.ext").write_text(DOVECOT_OAUTH2_EXT.substitute(url=url))
    conf = folder / "dovecot.conf"
    conf.write_text(
        DOVECOT_OAUTH_CONF.substitute(dir=folder, user=as_user, group=group, port=server.port)
    )
    for sub in ("run", "state", "home"):  # base_dir starts empty: a stale socket costs 5 s
        (folder / sub).mkdir()
    shutil.chown(folder, as_user, group)
    for path in folder.rglob("*"):
        shutil.chown(path, as_user, group)
    run_as = ["runuser", "-u", as_user, "--"] if os.geteuid() == 0 else []
    # stdio must not be a pipe: the daemon would hold it open and hang whoever reads it
    with open(folder / "start.log", "wb") as log:
        started = subprocess.run(
            [*run_as, DOVECOT, "-c", str(conf)], stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
    try:
        if started.returncode != 0 or not _wait_for_port(server.port):
            pytest.fail(f"Dovecot (oauth2) did not start:\n{_logs(folder)}", pytrace=False)
        yield server
    finally:
        subprocess.run(
            [*run_as, "doveadm", "-c", str(conf), "stop"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def imap_oauth(_imap_oauth_server: OAuthImapServer, introspection_client: Any) -> OAuthImapServer:
    """Dovecot whose oauth2 passdb introspects at the live server: XOAUTH2 and OAUTHBEARER
    only (no password login at all)."""
    return _imap_oauth_server
