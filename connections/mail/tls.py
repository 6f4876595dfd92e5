"""TLS for the probes: one verifying context, what a handshake established, what went wrong."""

from __future__ import annotations

import functools
import os
import re
import ssl
from datetime import UTC, datetime
from typing import Any

SHORT_NAMES = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "stateOrProvinceName": "ST",
    "localityName": "L",
}


def context(ca_file: str = "") -> ssl.SSLContext:
    """Verify against the system store plus ca_file (a private CA), host name included.

    Loading the CA store costs far more than a whole probe, so one context is kept per trust
    configuration: the ca_file path and the file's identity, size and time of change, so
    that a replaced bundle is read again. Contexts are not changed once built, so probes in
    several threads may share one.
    """
    stamp = None
    if ca_file:
        try:
            info = os.stat(ca_file)
            stamp = (info.st_ino, info.st_size, info.st_mtime_ns)
        except OSError:
            pass  # load_verify_locations names the problem
    return _context(ca_file, stamp)


@functools.lru_cache(maxsize=8)
def _context(ca_file: str, stamp: tuple[int, int, int] | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context()
    if ca_file:
        ctx.load_verify_locations(cafile=ca_file)
    return ctx


def details(sock: ssl.SSLSocket) -> dict[str, Any]:
    cert = sock.getpeercert() or {}
    cipher = sock.cipher()
    not_after = cert.get("notAfter")
    expires = (
        datetime.fromtimestamp(ssl.cert_time_to_seconds(not_after), UTC) if not_after else None
    )
    return {
        "version": sock.version(),
        "cipher": cipher[0] if cipher else "",
        "subject": _name(cert.get("subject", ())),
        "issuer": _name(cert.get("issuer", ())),
        "subject_alt_names": [value for _, value in cert.get("subjectAltName", ())],
        "not_after": expires.isoformat() if expires else "",
        "days_left": (expires - datetime.now(UTC)).days if expires else None,
        # the context refuses unverified certificates, so a finished handshake is verified
        "verified": True,
    }


def _name(rdns: Any) -> str:
    return ", ".join(f"{SHORT_NAMES.get(k, k)}={v}" for rdn in rdns for k, v in rdn)


def hint(exc: BaseException, implicit: bool, plain_ports: str) -> str:
    """The operator's next step after a failed handshake; plain_ports names the STARTTLS ports."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or str(exc)
        return (
            f"Certificate not trusted: {reason}. Add the CA to the trust store "
            "(MAIL_TEST_CA_BUNDLE) or check the server name."
        )
    broken = isinstance(exc, ssl.SSLError | ConnectionError)
    if implicit and broken:
        # a plain-text server answers our ClientHello with its banner or an error line
        verb = "expect" if "/" in plain_ports else "expects"
        return (
            f"The server did not answer TLS: port {plain_ports} {verb} STARTTLS, not SSL; "
            "turn off Enable SSL."
        )
    if broken:
        return f"The TLS handshake after STARTTLS failed ({exc}): check the server's TLS setup."
    return ""


def connection_hint(
    name: str,
    exc: BaseException,
    params: Any,
    ssl_port: int,
    plain_ports: str,
    closed: type[BaseException],
) -> str:
    """Hints for transport failures shared by SMTP and IMAP (TLS, silent servers, hang-ups)."""
    from connections.mail.report import is_timeout

    wait = f"{params.timeout:g} s"
    if name == "tls":
        if is_timeout(exc):
            return f"No TLS handshake within {wait}: check the port and Enable SSL."
        return hint(exc, implicit=params.ssl, plain_ports=plain_ports)
    if name == "greeting" and is_timeout(exc):
        if params.port == ssl_port and not params.ssl:
            return f"Port {ssl_port} expects Enable SSL (implicit TLS)."
        return (
            f"The server accepted the connection but sent no greeting within {wait}: if it "
            "expects implicit TLS turn on Enable SSL, otherwise check the port."
        )
    if is_timeout(exc):
        return f"The server did not answer within {wait}."
    if isinstance(exc, closed | ConnectionError):
        return "The server closed the connection: see its last reply, or its logs."
    return ""


# First lines that give another protocol away, checked in this order
OTHER_PROTOCOLS = [
    (re.compile(rb"\* (OK|PREAUTH|BYE)\b"), "IMAP"),
    (re.compile(rb"\+OK\b"), "POP3"),
    (re.compile(rb"SSH-"), "SSH"),
    (re.compile(rb"\d{3}[ -].*FTP", re.IGNORECASE), "FTP"),
    (re.compile(rb"\d{3}([ -]|\r?\n)"), "SMTP"),
]


def answered_like(first_line: bytes) -> str:
    """The protocol a server's first line belongs to, or "" when it says nothing clear."""
    return next((name for pattern, name in OTHER_PROTOCOLS if pattern.match(first_line)), "")


def wrong_protocol_hint(first_line: bytes, expected: str, ports: str) -> str:
    """For a greeting in another protocol than expected; "" when it is not recognised."""
    other = answered_like(first_line)
    if not other or other == expected:
        return ""
    article = "an" if other[0] in "AEFHILMNORSX" else "a"
    return (
        f"This port answered like {article} {other} server, not {expected}: check the port "
        f"({expected} uses {ports})."
    )
