"""Acting on a mailbox over IMAP: select a folder, find unseen mails, read them, flag and move.

Everything goes by UID (RFC 3501, 2.3.1.1), which stays the same for a mail in a folder as
long as the folder's UIDVALIDITY does. Folder names travel as modified UTF-7, quoted.
"""

from __future__ import annotations

import base64
import email
import email.policy
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses, parsedate_to_datetime
from html.parser import HTMLParser
from imaplib import IMAP4

from connections.mail.report import Failed, Own

# What one mail may bring into a run: its headers and the start of its text
MAX_MAIL_BYTES = 64 * 1024
# UIDs searched per SEARCH command: the reply (one line) stays far below imap.MAX_LINE
SEARCH_WINDOW = 5000
UID_ITEM = re.compile(rb"\bUID (\d+)")


class NoSuchFolder(Exception):
    pass


def encode_utf7(name: str) -> str:
    """A folder name in IMAP's modified UTF-7 (RFC 3501, 5.1.3): "Gelöschte" is "Gel&APY-schte"."""
    out, pending = [], []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode().rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in name:
        if " " <= char <= "~":
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def quoted(name: str) -> str:
    """A folder name as an IMAP quoted string (imaplib sends arguments as they are)."""
    encoded = encode_utf7(name)
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def same_folder(a: str, b: str) -> bool:
    # INBOX is case-insensitive, every other name is not (RFC 3501, 5.1)
    return a == b or a.upper() == b.upper() == "INBOX"


def find_folder(name: str, names: dict[str, list[str]]) -> str:
    """The server's spelling of folder `name` among the LISTed names; NoSuchFolder if none."""
    found = next((n for n in names if same_folder(n, name)), None)
    if found is None:
        raise NoSuchFolder(name)
    return found


def capabilities(client: IMAP4) -> set[str]:
    """The capabilities after login: servers announce more (MOVE, UIDPLUS) than before it."""
    typ, data = client.capability()
    _check(typ, data, "The server refused CAPABILITY.")
    return set(_text(data[-1]).upper().split())


def select(client: IMAP4, folder: str) -> tuple[int, int]:
    """Open folder read-write; its UIDVALIDITY and UIDNEXT (0 when not announced)."""
    typ, data = client.select(quoted(folder))
    _check(typ, data, f"The server would not open the folder '{folder}': see its reply.")
    uidvalidity, uidnext = _number(client, "UIDVALIDITY"), _number(client, "UIDNEXT")
    if not uidvalidity:
        raise Failed(
            Own("no UIDVALIDITY in the SELECT reply"),
            "The server gave the folder no UIDVALIDITY, so mails cannot be told apart between "
            "runs: this server is not usable for a monitor.",
        )
    return uidvalidity, uidnext


def _number(client: IMAP4, code: str) -> int:
    _, values = client.response(code)
    try:
        return int(values[-1])
    except (TypeError, ValueError, IndexError):
        return 0


def unseen_after(
    client: IMAP4, last_uid: int, limit: int, uidnext: int = 0
) -> tuple[list[int], int]:
    """The first `limit` UIDs of unseen, undeleted mails above last_uid, in order, and how
    many more were seen waiting (at least that many: the search stops once it found more).

    Searched SEARCH_WINDOW UIDs at a time up to UIDNEXT, so that a folder with many unseen
    mails does not answer with a line longer than a reply may be.
    """
    found: list[int] = []
    start = last_uid + 1
    while len(found) <= limit:
        end = start + SEARCH_WINDOW - 1
        final = not uidnext or end >= uidnext - 1
        found += _search(client, f"{start}:*" if final else f"{start}:{end}", last_uid)
        if final:
            break
        start = end + 1
    return found[:limit], max(0, len(found) - limit)


def _search(client: IMAP4, uids: str, last_uid: int) -> list[int]:
    typ, data = client.uid("SEARCH", "UID", uids, "UNSEEN", "UNDELETED")
    _check(typ, data, "The server refused to search the folder: see its reply.")
    # "n:*" always includes the highest UID, even when it is below n (RFC 3501, 6.4.8)
    found = {int(uid) for uid in b" ".join(d for d in data if d).split() if uid.isdigit()}
    return sorted(uid for uid in found if uid > last_uid)


@dataclass
class Mail:
    uid: int
    message: EmailMessage

    def header(self, name: str) -> str:
        try:
            return str(self.message.get(name, "") or "").strip()
        except Exception:  # a header the parser cannot make sense of: its raw text
            return _raw_header(self.message, name)

    def addresses(self, name: str) -> list[str]:
        return [address for _, address in getaddresses([self.header(name)]) if address]

    def date(self) -> str:
        value = self.header("Date")
        try:
            return parsedate_to_datetime(value).isoformat()
        except (TypeError, ValueError, IndexError):
            return value

    def text(self) -> str:
        """The plain-text body (else the HTML body as text), as far as it was read."""
        try:
            part = self.message.get_body(preferencelist=("plain", "html"))
        except Exception:
            part = None
        if part is None:
            return ""
        try:
            content = part.get_content()
        except Exception:  # an unknown charset or broken transfer encoding
            payload = part.get_payload(decode=True) or b""
            content = payload.decode(errors="replace") if isinstance(payload, bytes) else ""
        if not isinstance(content, str):
            return ""
        return _html_text(content) if part.get_content_subtype() == "html" else content


def fetch(client: IMAP4, uids: list[int]) -> list[Mail]:
    """Headers and the start of the text of each mail, without setting \\Seen."""
    if not uids:
        return []
    typ, data = client.uid(
        "FETCH", ",".join(map(str, uids)), f"(UID BODY.PEEK[]<0.{MAX_MAIL_BYTES}>)"
    )
    _check(typ, data, "The server refused to fetch the mails: see its reply.")
    mails = []
    for item in data:
        if not isinstance(item, tuple):
            continue
        head, raw = item
        match = UID_ITEM.search(head)
        if match:
            message = email.message_from_bytes(raw, policy=email.policy.default)
            mails.append(Mail(int(match[1]), message))
    return sorted(mails, key=lambda mail: mail.uid)


def mark_read(client: IMAP4, uid: int, seen: bool = True) -> None:
    typ, data = client.uid(
        "STORE", str(uid), "+FLAGS.SILENT" if seen else "-FLAGS.SILENT", r"(\Seen)"
    )
    _check(typ, data, "The server refused to change the mail's flags: see its reply.")


def move(client: IMAP4, uid: int, folder: str, offered: set[str]) -> str:
    """Move one mail to folder; what was done, in words.

    UID MOVE (RFC 6851) when offered. Otherwise COPY, flag \\Deleted and UID EXPUNGE
    (UIDPLUS, RFC 4315) of that mail only: a plain EXPUNGE would also remove every mail
    someone else had flagged \\Deleted. Without UIDPLUS the original stays flagged \\Deleted.
    """
    if "MOVE" in offered:
        typ, data = client.uid("MOVE", str(uid), quoted(folder))
        _check(typ, data, f"The server refused to move the mail to '{folder}': see its reply.")
        return f"moved to {folder}"
    typ, data = client.uid("COPY", str(uid), quoted(folder))
    _check(typ, data, f"The server refused to copy the mail to '{folder}': see its reply.")
    typ, data = client.uid("STORE", str(uid), "+FLAGS.SILENT", r"(\Deleted)")
    _check(typ, data, "The server refused to flag the mail \\Deleted: see its reply.")
    if "UIDPLUS" not in offered:
        return f"copied to {folder}, original flagged \\Deleted (the server has no UID EXPUNGE)"
    typ, data = client.uid("EXPUNGE", str(uid))
    _check(typ, data, "The server refused to expunge the mail: see its reply.")
    return f"moved to {folder} (copy, expunge)"


def _check(typ: str, data: list[object], hint: str) -> None:
    if typ != "OK":
        last = data[-1] if data else b""
        raise Failed(f"{typ} {_text(last if isinstance(last, bytes | str) else b'')}", hint)


def _text(value: bytes | str | None) -> str:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value or ""


def _raw_header(message: EmailMessage, name: str) -> str:
    for key, value in message.raw_items():
        if key.lower() == name.lower():
            return str(value).strip()
    return ""


class _TextOnly(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.skipping += 1
        elif tag in ("br", "p", "div", "tr", "li"):
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self.skipping:
            self.skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(data)


def _html_text(html: str) -> str:
    parser = _TextOnly()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)
