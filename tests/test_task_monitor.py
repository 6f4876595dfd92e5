"""Email Monitor Task runs against the loopback Dovecot: mails put in with APPEND, the result
read back through IMAP. Every test works in folders of its own (Dovecot is shared)."""

import contextlib
import imaplib
import socket
import uuid
from collections.abc import Iterator
from email.message import EmailMessage

import pytest

from connections.mail import mailbox, xoauth2
from connections.models import EmailConnection
from connections.tasks import monitor
from connections.tasks.monitor import Action, Criterion, State, Watch
from tests.factories import make_connection, make_oauth_client
from tests.mailservers import Endpoint, ImapServer
from tests.oauth_provider import MAILBOX_USER, authorize_in_console, oauth_connection
from tests.test_probe_hostile import Lines, fake_server, flood

pytestmark = pytest.mark.django_db


class Box:
    """A test's own corner of alice's mailbox, seen through a separate IMAP session."""

    def __init__(self, server: ImapServer) -> None:
        self.prefix = f"t{uuid.uuid4().hex[:8]}"
        self.client = imaplib.IMAP4(server.host, server.port, timeout=10)
        self.client.login(server.user, server.password)
        self.created: list[str] = []

    def folder(self, name: str) -> str:
        full = f"{self.prefix}-{name}"
        assert self.client.create(mailbox.quoted(full))[0] == "OK"
        self.created.append(full)
        return full

    def append(self, folder: str, mail: EmailMessage, flags: str = "") -> None:
        typ, _ = self.client.append(mailbox.quoted(folder), flags or None, None, mail.as_bytes())
        assert typ == "OK"

    def flags(self, folder: str) -> dict[str, set[str]]:
        """Subject -> flags of every mail in folder."""
        _, count = self.client.select(mailbox.quoted(folder), readonly=True)
        data = []
        if int(count[0]):
            _, data = self.client.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        found = {}
        for item in data:
            if isinstance(item, tuple):
                flags = imaplib.ParseFlags(item[0])
                subject = item[1].decode().partition(":")[2].strip()
                found[subject] = {f.decode() for f in flags} - {"\\Recent"}
        self.client.close()
        return found

    def mark_unseen(self, folder: str) -> None:
        self.client.select(mailbox.quoted(folder))
        self.client.store("1:*", "-FLAGS", "(\\Seen)")
        self.client.close()

    def recreate(self, folder: str) -> None:
        assert self.client.delete(mailbox.quoted(folder))[0] == "OK"
        assert self.client.create(mailbox.quoted(folder))[0] == "OK"

    def uidvalidity(self, folder: str) -> int:
        _, data = self.client.status(mailbox.quoted(folder), "(UIDVALIDITY)")
        return int(data[0].split(b"UIDVALIDITY ")[1].rstrip(b")"))

    def close(self) -> None:
        for name in reversed(self.created):
            self.client.delete(mailbox.quoted(name))
        self.client.logout()


@pytest.fixture
def box(imap_server: ImapServer) -> Iterator[Box]:
    box = Box(imap_server)
    yield box
    box.close()


def mail(
    subject: str, sender: str = "Billing <billing@example.com>", **headers: str
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = sender
    message["To"] = headers.pop("to", "alice@example.com")
    message["Date"] = "Fri, 20 Nov 2026 09:30:00 +0000"
    for name, value in headers.items():
        if name != "body":
            message[name.replace("_", "-")] = value
    message.set_content(headers.get("body", f"Body of {subject}\n"))
    return message


def incoming(server: ImapServer | Endpoint, box: Box, **values: object) -> EmailConnection:
    fields: dict[str, object] = {
        "name": f"Mailbox {box.prefix}",
        "connection_type": EmailConnection.Type.INCOMING,
        "imap_server": server.host,
        "imap_port": server.port,
        "email_address": "alice@example.com",
        "user_name": "alice",
        "trash_folder": "",
    }
    fields.update(values)
    return make_connection(password="s3cret", **fields)


def subject_contains(text: str) -> list[Criterion]:
    return [Criterion("subject", "contains", text)]


def test_mark_as_read_flags_the_matching_unseen_mails_only(imap_server, box):
    inbox = box.folder("inbox")
    box.append(inbox, mail("Invoice 1"))
    box.append(inbox, mail("Newsletter"))
    box.append(inbox, mail("Invoice 0, already read"), flags="(\\Seen)")
    connection = incoming(imap_server, box)

    report = monitor.run(connection, Watch(inbox, subject_contains("INVOICE")))

    assert report.ok, report.failed_stage
    assert box.flags(inbox) == {
        "Invoice 1": {"\\Seen"},
        "Newsletter": set(),
        "Invoice 0, already read": {"\\Seen"},
    }
    assert (report.examined, report.matched) == (2, 1)
    [handled] = report.matches
    assert handled.sender == "Billing <billing@example.com>"
    assert handled.subject == "Invoice 1"
    assert handled.date == "2026-11-20T09:30:00+00:00"
    assert handled.action == "marked as read"


def test_the_report_lists_the_stages_of_a_run(imap_server, box):
    inbox = box.folder("inbox")
    connection = incoming(imap_server, box)

    report = monitor.run(connection, Watch(inbox))

    assert report.ok
    assert [s.name for s in report.stages] == [
        "settings", "dns", "connect", "greeting", "capability", "auth", "list",
        "trash_folder", "select", "search", "fetch", "match", "act",
    ]  # fmt: skip
    assert report.stage("trash_folder").hint == "Not applicable: the action deletes nothing."
    assert report.to_dict()["matches"] == []


def test_every_criterion_must_match(imap_server, box):
    inbox = box.folder("inbox")
    box.append(inbox, mail("Job 7 failed", to="Ops <OPS@example.com>", body="exit code 3\n"))
    box.append(inbox, mail("Job 8 failed", to="ops@example.com", cc="boss@example.com"))
    box.append(inbox, mail("Job 9 failed", sender="other@example.com", to="ops@example.com"))
    box.append(inbox, mail("Job 10 failed", to="ops@example.com", body="exit code 0\n"))
    connection = incoming(imap_server, box)
    criteria = [
        Criterion("from", "equals", "BILLING@example.com"),
        Criterion("to", "equals", "ops@example.com"),
        Criterion("cc", "blank"),
        Criterion("subject", "regex", r"^Job \d+ failed$"),
        Criterion("body", "contains", "EXIT CODE 3"),
    ]

    report = monitor.run(connection, Watch(inbox, criteria))

    assert report.ok, report.failed_stage
    assert [m.subject for m in report.matches] == ["Job 7 failed"]
    assert box.flags(inbox)["Job 7 failed"] == {"\\Seen"}
    assert box.flags(inbox)["Job 10 failed"] == set()


def test_the_body_of_an_html_only_mail_is_matched_as_text(imap_server, box):
    inbox = box.folder("inbox")
    html = mail("Report")
    html.set_content("<p>Backup <b>completed</b> &amp; verified</p>", subtype="html")
    box.append(inbox, html)
    connection = incoming(imap_server, box)

    report = monitor.run(
        connection, Watch(inbox, [Criterion("body", "contains", "completed & verified")])
    )

    assert report.matched == 1


def test_delete_moves_the_mail_to_the_connections_trash_folder(imap_server, box):
    inbox, trash = box.folder("inbox"), box.folder("trash")
    box.append(inbox, mail("Spam offer"))
    box.append(inbox, mail("Keep me"))
    connection = incoming(imap_server, box, trash_folder=trash)

    report = monitor.run(connection, Watch(inbox, subject_contains("spam"), Action.DELETE))

    assert report.ok, report.failed_stage
    assert box.flags(inbox) == {"Keep me": set()}
    assert box.flags(trash) == {"Spam offer": set()}
    assert report.matches[0].action == f"moved to {trash}"
    assert report.stage("trash_folder").status == "ok"


def test_delete_and_mark_as_read_leaves_the_mail_read_in_the_trash_folder(imap_server, box):
    inbox, trash = box.folder("inbox"), box.folder("trash")
    box.append(inbox, mail("Spam offer"))
    connection = incoming(imap_server, box, trash_folder=trash)

    report = monitor.run(connection, Watch(inbox, action=Action.DELETE_MARK_READ))

    assert report.ok, report.failed_stage
    assert box.flags(inbox) == {}
    assert box.flags(trash) == {"Spam offer": {"\\Seen"}}
    assert report.matches[0].action == f"marked as read, moved to {trash}"


def test_move_and_mark_as_read_moves_the_mail_read_to_the_folder(imap_server, box):
    inbox, archive = box.folder("inbox"), box.folder("Archiv ö")
    box.append(inbox, mail("Invoice 1"))
    connection = incoming(imap_server, box)

    report = monitor.run(
        connection, Watch(inbox, action=Action.MOVE_MARK_READ, move_folder=archive)
    )

    assert report.ok, report.failed_stage
    assert box.flags(inbox) == {}
    assert box.flags(archive) == {"Invoice 1": {"\\Seen"}}
    assert report.stage("move_folder").status == "ok"


def test_move_keeps_the_mail_unseen(imap_server, box):
    inbox, archive = box.folder("inbox"), box.folder("archive")
    box.append(inbox, mail("Invoice 1"))
    connection = incoming(imap_server, box)

    report = monitor.run(connection, Watch(inbox, action=Action.MOVE, move_folder=archive))

    assert report.ok, report.failed_stage
    assert box.flags(archive) == {"Invoice 1": set()}


def test_a_second_run_with_the_returned_state_acts_on_nothing(imap_server, box):
    inbox = box.folder("inbox")
    box.append(inbox, mail("Invoice 1"))
    connection = incoming(imap_server, box)
    watch = Watch(inbox)
    first = monitor.run(connection, watch)
    box.mark_unseen(inbox)  # someone marks it unread again

    second = monitor.run(connection, watch, first.state)

    assert first.matched == 1
    assert second.ok
    assert (second.examined, second.matched) == (0, 0)
    assert second.state == first.state
    assert box.flags(inbox) == {"Invoice 1": set()}


def test_the_state_names_the_folders_uidvalidity_and_the_last_uid_handled(imap_server, box):
    inbox = box.folder("inbox")
    box.append(inbox, mail("One"))
    box.append(inbox, mail("Two"))
    connection = incoming(imap_server, box)

    report = monitor.run(connection, Watch(inbox, subject_contains("one")))

    assert report.state == State(box.uidvalidity(inbox), 2)
    assert report.to_dict()["uidvalidity"] == box.uidvalidity(inbox)


def test_a_changed_uidvalidity_starts_counting_again(imap_server, box):
    inbox = box.folder("inbox")
    box.append(inbox, mail("Before"))
    connection = incoming(imap_server, box)
    first = monitor.run(connection, Watch(inbox))
    box.recreate(inbox)  # the new folder's first mail has UID 1 again
    box.append(inbox, mail("After"))

    second = monitor.run(connection, Watch(inbox), first.state)

    assert second.ok, second.failed_stage
    assert second.uidvalidity != first.uidvalidity
    assert second.stage("select").detail["restarted"] is True
    assert [m.subject for m in second.matches] == ["After"]
    assert box.flags(inbox) == {"After": {"\\Seen"}}


def test_a_run_examines_a_bounded_number_of_mails_and_the_next_run_goes_on(
    imap_server, box, monkeypatch
):
    monkeypatch.setattr(monitor, "MAX_MAILS", 2)
    inbox = box.folder("inbox")
    for number in (1, 2, 3):
        box.append(inbox, mail(f"Mail {number}"))
    connection = incoming(imap_server, box)

    first = monitor.run(connection, Watch(inbox))
    second = monitor.run(connection, Watch(inbox), first.state)

    assert (first.examined, first.waiting) == (2, 1)
    assert second.waiting == 0
    assert (
        first.stage("search").reply
        == "2 unseen mails not handled yet, at least 1 more for the next run"
    )
    assert [m.subject for m in second.matches] == ["Mail 3"]
    assert set(map(frozenset, box.flags(inbox).values())) == {frozenset({"\\Seen"})}


def test_an_invalid_regex_fails_the_run_before_connecting_with_the_regex_error(imap_server, box):
    connection = incoming(imap_server, box)

    report = monitor.run(connection, Watch("INBOX", [Criterion("subject", "regex", "Job (\\d+")]))

    assert not report.ok
    assert report.failed_stage.name == "settings"
    assert "Subject: Invalid regex: missing ) at position" in report.failed_stage.hint
    assert {s.status for s in report.stages[1:]} == {"skipped"}


def test_an_invalid_regex_is_named_for_the_form():
    assert monitor.regex_error("a[").startswith("Invalid regex: ")
    assert monitor.regex_error(r"^Job \d+$") == ""
    assert monitor.problems(Watch(criteria=[Criterion("body", "regex", "(")])) == [
        "Body: Invalid regex: missing ) at position 1."
    ]


def test_move_without_a_folder_is_refused_before_connecting(imap_server, box):
    connection = incoming(imap_server, box)

    report = monitor.run(connection, Watch("INBOX", action=Action.MOVE))

    assert report.failed_stage.name == "settings"
    assert "Move needs a folder to move the mails to." in report.failed_stage.hint


def test_a_move_folder_that_does_not_exist_fails_naming_the_existing_folders(imap_server, box):
    inbox = box.folder("inbox")
    box.append(inbox, mail("Invoice 1"))
    connection = incoming(imap_server, box)

    report = monitor.run(connection, Watch(inbox, action=Action.MOVE, move_folder="Archive"))

    assert report.failed_stage.name == "move_folder"
    assert report.failed_stage.hint.startswith("Folder 'Archive' does not exist; existing folders:")
    assert inbox in report.failed_stage.hint
    assert box.flags(inbox) == {"Invoice 1": set()}


def test_delete_without_a_trash_folder_on_the_connection_is_refused(imap_server, box):
    connection = incoming(imap_server, box, trash_folder="")

    report = monitor.run(connection, Watch("INBOX", action=Action.DELETE))

    assert report.failed_stage.name == "settings"
    assert "the connection's Trash Folder, and it has none" in report.failed_stage.hint


def test_a_trash_folder_that_does_not_exist_fails_at_the_trash_folder_stage(imap_server, box):
    inbox = box.folder("inbox")
    box.append(inbox, mail("Spam"))
    connection = incoming(imap_server, box, trash_folder=imap_server.missing)

    report = monitor.run(connection, Watch(inbox, action=Action.DELETE))

    assert report.failed_stage.name == "trash_folder"
    assert "Folder 'Deleted Items' does not exist" in report.failed_stage.hint
    assert box.flags(inbox) == {"Spam": set()}


def test_a_watched_folder_that_does_not_exist_fails_at_select(imap_server, box):
    connection = incoming(imap_server, box)

    report = monitor.run(connection, Watch(f"{box.prefix}-nowhere"))

    assert report.failed_stage.name == "select"
    assert f"Folder '{box.prefix}-nowhere' does not exist" in report.failed_stage.hint


def test_a_refused_login_fails_at_auth_with_the_probes_hint(imap_server, box):
    connection = incoming(imap_server, box)
    connection.set_secret("password", "wrong")
    connection.save()

    report = monitor.run(connection, Watch("INBOX"))

    assert report.failed_stage.name == "auth"
    assert report.failed_stage.hint == "Authentication rejected: check User Name and Password."
    assert "wrong" not in str(report.to_dict())


def test_a_regex_that_runs_too_long_fails_the_match_stage(imap_server, box, monkeypatch):
    monkeypatch.setattr(monitor, "REGEX_SECONDS", 0.05)
    inbox = box.folder("inbox")
    box.append(inbox, mail("Trap", body="x" * 5000 + "\n"))
    connection = incoming(imap_server, box)

    report = monitor.run(connection, Watch(inbox, [Criterion("body", "regex", "(x+x+)+y")]))

    assert report.failed_stage.name == "match"
    assert "regex takes too long" in report.failed_stage.hint
    assert report.state == State(box.uidvalidity(inbox), 0)
    assert box.flags(inbox) == {"Trap": set()}


def test_starttls_verifies_with_the_configured_trust(imap_server, box, settings, mail_ca_file):
    settings.MAIL_TEST_CA_BUNDLE = mail_ca_file
    inbox = box.folder("inbox")
    box.append(inbox, mail("Invoice 1"))
    connection = incoming(imap_server, box, enable_starttls=True)

    report = monitor.run(connection, Watch(inbox))

    assert report.ok, report.failed_stage
    assert report.stage("tls").detail["verified"] is True
    assert report.matched == 1


def test_an_untrusted_certificate_fails_at_tls(imap_server, box, settings):
    settings.MAIL_TEST_CA_BUNDLE = ""
    connection = incoming(imap_server, box, enable_starttls=True)

    report = monitor.run(connection, Watch("INBOX"))

    assert report.failed_stage.name == "tls"
    assert "Certificate not trusted" in report.failed_stage.hint


def test_an_unauthorized_oauth_connection_fails_at_auth_saying_authorize_first(imap_server, box):
    connection = incoming(
        imap_server,
        box,
        authentication=EmailConnection.Auth.OAUTH2,
        oauth_client=make_oauth_client(),
    )

    report = monitor.run(connection, Watch("INBOX"))

    assert not report.ok
    assert report.failed_stage.name == "auth"
    assert report.failed_stage.hint.startswith("authorize first")
    assert report.stage("connect").status == "skipped"


def test_an_outgoing_connection_is_refused(box):
    connection = make_connection(name=f"Mailer {box.prefix}")

    report = monitor.run(connection, Watch("INBOX"))

    assert report.failed_stage.name == "settings"
    assert "choose an Incoming connection" in report.failed_stage.hint


def test_without_move_the_mail_is_copied_flagged_deleted_and_expunged_alone(imap_server, box):
    inbox, trash = box.folder("inbox"), box.folder("trash")
    box.append(inbox, mail("Spam"))
    box.append(inbox, mail("Deleted by someone else"), flags="(\\Deleted)")
    client = box.client
    client.select(mailbox.quoted(inbox))

    done = mailbox.move(client, 1, trash, offered={"UIDPLUS"})

    client.unselect()  # CLOSE would expunge what is flagged \Deleted
    assert done == f"moved to {trash} (copy, expunge)"
    assert box.flags(inbox) == {"Deleted by someone else": {"\\Deleted"}}
    assert box.flags(trash) == {"Spam": set()}


def test_without_uidplus_the_original_is_left_flagged_deleted(imap_server, box):
    inbox, trash = box.folder("inbox"), box.folder("trash")
    box.append(inbox, mail("Spam"))
    client = box.client
    client.select(mailbox.quoted(inbox))

    done = mailbox.move(client, 1, trash, offered=set())

    client.unselect()
    assert "original flagged \\Deleted" in done
    assert box.flags(inbox) == {"Spam": {"\\Deleted"}}
    assert box.flags(trash) == {"Spam": set()}


def test_folder_names_travel_as_modified_utf7():
    assert mailbox.encode_utf7("Gelöschte Elemente") == "Gel&APY-schte Elemente"
    assert mailbox.encode_utf7("R&D") == "R&-D"
    assert mailbox.quoted('a "b"') == '"a \\"b\\""'


@pytest.mark.django_db(transaction=True)
def test_an_authorized_oauth_mailbox_is_watched_with_xoauth2(
    provider, oauth_client, imap_oauth, mailbox_user
):
    imap_oauth.make_mailbox(MAILBOX_USER)
    connection = oauth_connection(
        oauth_client,
        connection_type=EmailConnection.Type.INCOMING,
        smtp_server="",
        imap_server=imap_oauth.host,
        imap_port=imap_oauth.port,
    )
    authorize_in_console(provider, connection)
    connection.refresh_from_db()
    token = connection.get_secret("oauth_access_token")
    client = imaplib.IMAP4(imap_oauth.host, imap_oauth.port, timeout=10)
    client.authenticate("XOAUTH2", lambda _: xoauth2.sasl_string(MAILBOX_USER, token).encode())
    prefix = f"t{uuid.uuid4().hex[:8]}"
    inbox, archive = f"{prefix}-inbox", f"{prefix}-archive"
    for name in (inbox, archive):
        client.create(mailbox.quoted(name))
    client.append(mailbox.quoted(inbox), None, None, mail("Invoice 1").as_bytes())
    try:
        report = monitor.run(
            connection, Watch(inbox, action=Action.MOVE_MARK_READ, move_folder=archive)
        )

        assert report.ok, report.failed_stage
        assert report.stage("auth").detail["mechanism"] == "XOAUTH2"
        assert report.matches[0].action == f"marked as read, moved to {archive}"
        assert client.select(mailbox.quoted(inbox))[1] == [b"0"]
        assert client.select(mailbox.quoted(archive))[1] == [b"1"]
    finally:
        with contextlib.suppress(imaplib.IMAP4.error):
            client.unselect()
        for name in (inbox, archive):
            client.delete(mailbox.quoted(name))
        client.logout()


def test_a_folder_is_searched_in_windows_of_uids(imap_server, box, monkeypatch):
    monkeypatch.setattr(mailbox, "SEARCH_WINDOW", 2)
    inbox = box.folder("inbox")
    for number in range(1, 6):
        box.append(inbox, mail(f"Mail {number}"), flags="(\\Seen)" if number < 4 else "")
    connection = incoming(imap_server, box)

    report = monitor.run(connection, Watch(inbox))

    assert [m.subject for m in report.matches] == ["Mail 4", "Mail 5"]
    assert report.state.last_uid == 5


def test_encoded_headers_are_matched_decoded(imap_server, box):
    inbox = box.folder("inbox")
    box.append(inbox, mail("Rechnung für Oktober", sender="Jürgen <j@example.com>"))
    connection = incoming(imap_server, box)
    criteria = [Criterion("subject", "contains", "FÜR"), Criterion("from", "contains", "jürgen")]

    report = monitor.run(connection, Watch(inbox, criteria))

    assert report.matches[0].sender == "Jürgen <j@example.com>"


def test_delete_in_the_trash_folder_itself_is_refused(imap_server, box):
    connection = incoming(imap_server, box, trash_folder="Trash")

    report = monitor.run(connection, Watch("Trash", action=Action.DELETE))

    assert report.failed_stage.name == "settings"
    assert "The folder watched is the connection's Trash Folder" in report.failed_stage.hint


class ScriptedImap:
    """An IMAP server on a script: INBOX with the unseen mails 1 and 2, and Archive.

    FETCH is answered with fetch_reply (and a flood) when one is given; the commands in
    refuse are answered NO. Every command is kept in `commands`.
    """

    def __init__(self, fetch_reply: bytes = b"", refuse: tuple[bytes, ...] = ()) -> None:
        self.fetch_reply, self.refuse = fetch_reply, refuse
        self.commands: list[bytes] = []

    replies = {
        b"CAPABILITY": b"* CAPABILITY IMAP4rev1 MOVE UIDPLUS\r\n",
        b"LIST": b'* LIST () "/" INBOX\r\n* LIST () "/" Archive\r\n',
        b"SELECT": b"* 2 EXISTS\r\n* OK [UIDVALIDITY 7] ok\r\n* OK [UIDNEXT 3] ok\r\n",
        b"SEARCH": b"* SEARCH 1 2\r\n",
    }

    def __call__(self, conn: socket.socket, read: Lines) -> None:
        conn.sendall(b"* OK fake IMAP ready\r\n")
        while True:
            line = read()
            self.commands.append(line.split(b" ", 1)[1])
            tag, command, *rest = line.split()
            command = (rest[0] if command == b"UID" else command).upper()
            if command == b"FETCH" and self.fetch_reply:
                conn.sendall(self.fetch_reply)
                with contextlib.suppress(OSError):
                    flood(conn, b"x" * 1024)
                return
            if command in self.refuse:
                conn.sendall(tag + b" NO [TRYCREATE] Mailbox doesn't exist\r\n")
                continue
            reply = self.mails() if command == b"FETCH" else self.replies.get(command, b"")
            conn.sendall(reply + tag + b" OK done\r\n")
            if command == b"LOGOUT":
                return

    def mails(self) -> bytes:
        found = b""
        for uid in (1, 2):
            raw = mail(f"Mail {uid}").as_bytes()
            found += b"* %d FETCH (UID %d BODY[]<0> {%d}\r\n%s)\r\n" % (uid, uid, len(raw), raw)
        return found


def test_a_refused_move_stops_the_run_and_leaves_the_mail_unseen_for_the_next(box):
    server_script = ScriptedImap(refuse=(b"MOVE",))
    with fake_server(server_script) as server:
        connection = incoming(server, box)
        report = monitor.run(
            connection, Watch("INBOX", action=Action.MOVE_MARK_READ, move_folder="Archive")
        )

    assert report.failed_stage.name == "act"
    assert report.failed_stage.hint == (
        "The server refused to move the mail to 'Archive': see its reply."
    )
    assert report.state == State(7, 0)
    assert [m.action for m in report.matches] == ["not done: the run stopped first"] * 2
    assert server_script.commands[-4:-1] == [
        b"UID STORE 1 +FLAGS.SILENT (\\Seen)",
        b'UID MOVE 1 "Archive"',
        b"UID STORE 1 -FLAGS.SILENT (\\Seen)",
    ]


def test_a_server_sending_a_mail_larger_than_asked_is_cut_off(box):
    with fake_server(ScriptedImap(b"* 1 FETCH (UID 1 BODY[]<0> {5000000}\r\n")) as server:
        connection = incoming(server, box)
        report = monitor.run(connection, Watch("INBOX"))

    assert report.failed_stage.name == "fetch"
    assert report.failed_stage.reply == (
        "Stopped reading: 5000000 bytes for one mail (at most 65536 asked for) received."
    )
    assert report.state == State(7, 0)


def test_imaps_logs_in_over_implicit_tls(imap_server, box, settings, mail_ca_file):
    settings.MAIL_TEST_CA_BUNDLE = mail_ca_file
    connection = incoming(imap_server, box, imap_port=imap_server.ssl_port, enable_ssl=True)

    report = monitor.run(connection, Watch("INBOX", [Criterion("subject", "equals", "none")]))

    assert report.ok, report.failed_stage
    assert [s.name for s in report.stages][3:5] == ["tls", "greeting"]


def test_a_silent_server_fails_within_the_time_limit(silent_server, box, settings):
    settings.MAIL_TEST_TIMEOUT = 0.3

    report = monitor.run(incoming(silent_server, box), Watch("INBOX"))

    assert report.failed_stage.name == "greeting"
    assert "sent no greeting within 0.3 s" in report.failed_stage.hint
    assert report.duration_ms < 3000
