"""The XOAUTH2 SASL exchange used by Microsoft 365 and Gmail for SMTP and IMAP."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any


def sasl_string(user: str, token: str) -> str:
    # Fields are separated by ^A and the message ends with two of them; no base64 here,
    # smtplib and imaplib encode the initial response themselves.
    return f"user={user}\x01auth=Bearer {token}\x01\x01"


def initial_response(user: str, token: str) -> str:
    return base64.b64encode(sasl_string(user, token).encode()).decode()


def parse_error(challenge: bytes) -> dict[str, Any]:
    """A refused token comes back as a challenge holding JSON ({"status": "401", ...})."""
    try:
        data = json.loads(challenge.decode() or "{}")
    except (UnicodeDecodeError, ValueError):
        return {"raw": challenge.decode(errors="replace")}
    return data if isinstance(data, dict) else {"raw": data}


class Exchange:
    """An auth object for smtplib.auth and imaplib.authenticate.

    The first call sends the credentials; any later call is the server's error challenge,
    which must be answered with an empty line before the server sends its final refusal.
    """

    def __init__(self, user: str, token: str) -> None:
        self.user = user
        self.token = token
        self.calls = 0
        self.error: dict[str, Any] = {}

    def __call__(self, challenge: bytes | None = None) -> str:
        self.calls += 1
        if self.calls == 1:
            return sasl_string(self.user, self.token)
        self.error = parse_error(challenge or b"")
        return ""

    def as_bytes(self) -> Callable[[bytes], bytes]:
        """imaplib wants bytes back."""
        return lambda challenge: self(challenge).encode()
