"""No log line, at any level and from any library, carries a token, password or secret.

oauthlib and requests-oauthlib log token requests and responses in full at DEBUG; urllib3
logs request lines that may carry an authorization code. Rather than trust each library,
every log record is redacted where it is made (a log record factory), so that whatever
handler receives it - the console, a file, pytest's capture - gets the masked text only.
"""

import logging
import re
from collections.abc import Callable
from typing import Any

MASK = "[redacted]"
SENSITIVE_KEYS = (
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "client_assertion",
    "code_verifier",
    "password",
    "passwd",
    "secret",
    "token",
    "code",
    "assertion",
)
KEYS = "|".join(SENSITIVE_KEYS)
PATTERNS = [
    # key=value in a form body or query string: refresh_token=abc&...
    re.compile(rf"(?i)(?<![A-Za-z0-9_])((?:{KEYS})=)[^&\s'\"]+"),
    # JSON or a dict's repr: "access_token": "abc" / 'access_token': 'abc'
    re.compile(rf"(?i)([\"'](?:{KEYS})[\"']\s*:\s*[\"'])[^\"']*"),
    # prose: "Validating refresh token abc for client x" (oauthlib's refresh grant)
    re.compile(r"(?i)(\b(?:access|refresh|id|bearer)[ _-]token:?\s+)[A-Za-z0-9\-._~+/]{8,}=*"),
    # an Authorization header, anywhere: Bearer abc / Basic abc
    re.compile(r"(?i)(\b(?:bearer|basic)\s+)[A-Za-z0-9\-._~+/]+=*"),
    # a JSON Web Token (an ID token or a JWT access token) on its own
    re.compile(r"()eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"),
]


def redact(text: str) -> str:
    for pattern in PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text


def redacting_factory(make: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        try:
            message = record.getMessage()
        except Exception:  # a bad format string is the logging call's bug, not ours to hide
            return record
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        return record

    factory.redacting = True  # type: ignore[attr-defined]
    return factory


def install() -> None:
    """Wrap the current log record factory once (idempotent)."""
    current = logging.getLogRecordFactory()
    if not getattr(current, "redacting", False):
        logging.setLogRecordFactory(redacting_factory(current))
