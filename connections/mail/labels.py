"""The Test report in people's words: stage and detail labels, detail values made readable.

The report itself keeps its raw keys (the API returns them); pages and hints read them here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

STAGES = {
    "dns": "DNS lookup",
    "connect": "TCP connect",
    "tls": "TLS handshake",
    "greeting": "Greeting",
    "ehlo": "EHLO",
    "auth": "Authentication",
    "mail_from": "MAIL FROM",
    "rcpt_to": "RCPT TO",
    "data": "DATA",
    "abort": "Aborted (dry run)",
    "send": "Mail sent",
    "capability": "CAPABILITY",
    "list": "Folders",
    "trash_folder": "Trash Folder",
    # an Email Task's and an Email Monitor Task's own stages
    "message": "Message",
    "settings": "Settings",
    "move_folder": "Move to Folder",
    "select": "SELECT",
    "search": "SEARCH unseen",
    "fetch": "FETCH",
    "match": "Criteria",
    "act": "Action",
}

DETAILS = {
    "addresses": "Addresses",
    "peer": "Connected to",
    "version": "Protocol",
    "cipher": "Cipher",
    "subject": "Certificate",
    "issuer": "Issued by",
    "subject_alt_names": "Names in certificate",
    "not_after": "Certificate expires",
    "verified": "Certificate verified",
    "capabilities": "Capabilities",
    "auth_mechanisms": "Login methods",
    "size": "Maximum message size",
    "starttls": "STARTTLS offered",
    "tls": "Over TLS",
    "offered": "Login methods offered",
    "mechanism": "Login method",
    "error": "Server's error",
    "sender": "Sender",
    "recipient": "Recipient",
    "dry_run": "Dry run",
    "message_id": "Message-ID",
    "count": "Number of folders",
    "folders": "Folders",
    "folder": "Folder",
    "flags": "Flags",
    # an Email Task's and an Email Monitor Task's own details
    "recipients": "Recipients",
    "refused": "Refused recipients",
    "criteria": "Criteria",
    "action": "Action",
    "move_folder": "Move to Folder",
    "uidvalidity": "UIDVALIDITY",
    "after_uid": "Mails after UID",
    "restarted": "Folder renumbered (UIDVALIDITY changed)",
    "found": "Unseen mails examined",
    "waiting": "Unseen mails left for the next run (at least)",
}

# where one key means something else in one stage
DETAILS_IN = {
    ("ehlo", "capabilities"): "Extensions",
    ("send", "subject"): "Subject",
    ("message", "subject"): "Subject",
}

# shown inside another detail (days_left with not_after), or said by the stage's label
HIDDEN = {("*", "days_left"), ("abort", "dry_run")}

MAX_VALUE = 200


def stage(name: str) -> str:
    return STAGES.get(name, name.replace("_", " ").capitalize())


def detail(stage_name: str, key: str) -> str:
    return (
        DETAILS_IN.get((stage_name, key)) or DETAILS.get(key) or key.replace("_", " ").capitalize()
    )


def details(stage_name: str, values: dict[str, Any], reply: str = "") -> list[tuple[str, str]]:
    """(label, readable value) of every detail worth showing, in the report's order: not the
    empty ones, nor those the reply ends with already (addresses, the connected peer)."""
    shown = []
    for key, value in values.items():
        if ("*", key) in HIDDEN or (stage_name, key) in HIDDEN:
            continue
        if key == "not_after":
            text = expiry(value, values.get("days_left"))
        elif key == "size":
            text = message_size(value)
        else:
            text = readable(value)
        if text and not reply.endswith(text):
            shown.append((detail(stage_name, key), text))
    return shown


def readable(value: Any) -> str:
    """Lists joined, booleans as Yes/No, None as not announced, long values cut."""
    if value is None:
        text = "not announced"
    elif isinstance(value, bool):
        text = "Yes" if value else "No"
    elif isinstance(value, dict):
        text = ", ".join(f"{k}: {readable(v)}" for k, v in value.items())
    elif isinstance(value, list | tuple | set):
        text = ", ".join(readable(v) for v in value)
    else:
        text = str(value)
    return text if len(text) <= MAX_VALUE else text[: MAX_VALUE - 1] + "…"


def message_size(size: int | None) -> str:
    if size is None:
        return "not announced"
    if size == 0:
        return "no fixed limit"  # SIZE 0 (RFC 1870, 4)
    if size < 1024:
        return f"{size} bytes"
    if size < 1024 * 1024:
        return f"{size / 1024:.0f} KB"
    return f"{size / (1024 * 1024):.3g} MB"


def expiry(iso: str, days_left: int | None) -> str:
    if not iso:
        return ""
    date = datetime.fromisoformat(iso).date().isoformat()
    if days_left is None:
        return date
    if days_left < 0:
        return f"{date} (expired {_days(-days_left)} ago)"
    if days_left == 0:
        return f"{date} (expires within a day)"
    return f"{date} ({_days(days_left)} left)"


def _days(count: int) -> str:
    return "1 day" if count == 1 else f"{count} days"
