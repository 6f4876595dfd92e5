"""An Email Monitor Task's run: find the unseen mails of a folder that match, act on them.

A run examines the unseen mails above the last UID handled (never one twice), reads each
one's headers and the start of its text, and acts on those matching every criterion. The
caller keeps the returned (UIDVALIDITY, last UID) for the next run; a folder whose
UIDVALIDITY changed has renumbered its mails, so the count starts again.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import regex
from django.db import models

from connections.mail import imap, mailbox, probe, tls
from connections.mail.report import Failed, Own, Recorder, Report, Stage, Stop

if TYPE_CHECKING:
    import socket
    from collections.abc import Callable

    from connections.mail.imap import Client
    from connections.mail.probe import ProbeParams
    from connections.models import EmailConnection

# A run examines at most this many mails; the rest wait for the next run.
MAX_MAILS = 50
# What the fetch stage may read: every examined mail's bytes, with room for the protocol
FETCH_BYTES = MAX_MAILS * (mailbox.MAX_MAIL_BYTES + 1024)
MAX_PATTERN = 1000
REGEX_SECONDS = 0.5


class Field(models.TextChoices):
    FROM = "from", "From"
    TO = "to", "To"
    CC = "cc", "CC"
    SUBJECT = "subject", "Subject"
    BODY = "body", "Body"


class Operator(models.TextChoices):
    EQUALS = "equals", "Equals"
    CONTAINS = "contains", "Contains"
    REGEX = "regex", "Regex"
    BLANK = "blank", "Is blank"


class Action(models.TextChoices):
    MARK_READ = "mark_read", "Mark as Read"
    DELETE = "delete", "Delete"
    DELETE_MARK_READ = "delete_mark_read", "Delete/Mark as Read"
    MOVE = "move", "Move"
    MOVE_MARK_READ = "move_mark_read", "Move/Mark as Read"


DELETES = {Action.DELETE, Action.DELETE_MARK_READ}
MOVES = {Action.MOVE, Action.MOVE_MARK_READ}
MARKS_READ = {Action.MARK_READ, Action.DELETE_MARK_READ, Action.MOVE_MARK_READ}
ADDRESS_FIELDS = {Field.FROM, Field.TO, Field.CC}


@dataclass
class Criterion:
    field: str  # a Field
    operator: str  # an Operator
    value: str = ""

    def __str__(self) -> str:
        label = f"{Field(self.field).label} {Operator(self.operator).label.lower()}"
        return label if self.operator == Operator.BLANK else f"{label} {self.value!r}"


@dataclass
class Watch:
    """What a monitor watches and what it does with a mail that matches every criterion."""

    folder: str = "INBOX"
    criteria: list[Criterion] = field(default_factory=list)
    action: str = Action.MARK_READ
    move_folder: str = ""


@dataclass
class State:
    """What a monitor remembers between runs."""

    uidvalidity: int = 0
    last_uid: int = 0


@dataclass
class Handled:
    uid: int
    sender: str
    subject: str
    date: str
    action: str  # what was done, in words


@dataclass
class MonitorReport(Report):
    folder: str = "INBOX"
    examined: int = 0
    matched: int = 0
    matches: list[Handled] = field(default_factory=list)
    waiting: int = 0  # unseen mails seen beyond MAX_MAILS (at least): the next run goes on
    uidvalidity: int = 0
    last_uid: int = 0

    @property
    def state(self) -> State:
        return State(self.uidvalidity, self.last_uid)


def regex_error(pattern: str) -> str:
    """Why pattern is not a usable regex, or "" when it is."""
    if len(pattern) > MAX_PATTERN:
        return f"The regex is longer than {MAX_PATTERN} characters."
    try:
        regex.compile(pattern)
    except regex.error as exc:
        return f"Invalid regex: {exc}."
    return ""


def problems(watch: Watch) -> list[str]:
    """What makes watch unusable, in the operator's words (empty when nothing does)."""
    found = []
    if not watch.folder.strip():
        found.append("Give the Folder to watch (e.g. INBOX).")
    for criterion in watch.criteria:
        if criterion.field not in Field.values or criterion.operator not in Operator.values:
            found.append(f"Unknown criterion {criterion.field!r} {criterion.operator!r}.")
        elif criterion.operator != Operator.BLANK and not criterion.value.strip():
            found.append(f"{criterion}: give the value to compare with (or use Is blank).")
        elif criterion.operator == Operator.REGEX:
            error = regex_error(criterion.value)
            if error:
                found.append(f"{Field(criterion.field).label}: {error}")
    if watch.action not in Action.values:
        found.append(f"Unknown action {watch.action!r}.")
    if watch.action in MOVES:
        if not watch.move_folder.strip():
            found.append("Move needs a folder to move the mails to.")
        elif mailbox.same_folder(watch.move_folder, watch.folder):
            found.append("Move to another folder than the one watched.")
    return found


def run(connection: EmailConnection, watch: Watch, state: State | None = None) -> MonitorReport:
    """Run watch against the stored Incoming connection; the report holds the new state."""
    # imported here: the task models import this module for its choices
    from connections import connection_test
    from connections.oauth import tokens

    state = state or State()
    report = MonitorReport(
        "imap",
        (connection.server or "").strip(),
        int(connection.port or 0),
        folder=watch.folder,
        uidvalidity=state.uidvalidity,
        last_uid=state.last_uid,
    )
    try:
        params = connection_test.params_for(connection, connection)
        reason = ""
    except tokens.AuthorizationNeeded as exc:
        params = probe.ProbeParams(
            "imap", report.host, report.port, connection.enable_ssl, connection.enable_starttls
        )
        reason = str(exc)
    deletes = watch.action in DELETES
    if not deletes:
        params.trash_folder = ""
    rec = _Recorder(
        report,
        plan=["settings", "dns", "connect", *_plan(params, watch)],
        timeout=params.timeout,
        total_timeout=params.total_timeout,
        secrets=probe._secrets(params),
    )
    rec.explain = lambda name, exc: probe._connect_hint(name, exc, params)
    sock = None
    try:
        with rec.stage("settings") as stage:
            _check_settings(stage, connection, watch)
        if reason:
            _not_authorized(rec, reason)
        addresses = probe.resolve(rec, params)
        sock = probe.connect(rec, params, addresses)
        _session(
            rec,
            params,
            sock,
            lambda client, names: _work(rec, client, names, watch, connection.trash_folder),
        )
    except Stop:
        rec.skip_rest()
    finally:
        live = rec.sock() or sock
        if live is not None:
            live.close()
    if not deletes and (stage := report.stage("trash_folder")) is not None:
        stage.hint = "Not applicable: the action deletes nothing."
    return rec.finish()


def _plan(params: ProbeParams, watch: Watch) -> list[str]:
    stages = imap.plan(params)
    if watch.action in MOVES:
        stages.append("move_folder")
    return [*stages, "select", "search", "fetch", "match", "act"]


def _check_settings(stage: Stage, connection: EmailConnection, watch: Watch) -> None:
    stage.detail.update(
        folder=watch.folder,
        criteria=[str(c) for c in watch.criteria] or ["none: every unseen mail matches"],
        action=Action(watch.action).label if watch.action in Action.values else watch.action,
    )
    if watch.action in MOVES:
        stage.detail["move_folder"] = watch.move_folder
    found = problems(watch)
    if connection.is_outgoing:
        found.insert(0, "A monitor reads a mailbox: choose an Incoming connection.")
    if watch.action in DELETES and not connection.trash_folder.strip():
        found.append(
            "Delete moves mails to the connection's Trash Folder, and it has none: set the "
            "Trash Folder on the connection (e.g. Trash)."
        )
    elif watch.action in DELETES and mailbox.same_folder(connection.trash_folder, watch.folder):
        found.append("The folder watched is the connection's Trash Folder: Delete cannot apply.")
    if found:
        raise Failed(Own("The task's settings cannot be run."), " ".join(found))
    stage.reply = Own("Settings checked.")


def _not_authorized(rec: Recorder, reason: str) -> None:
    # nothing goes over the network without a token: the stages before auth are not run
    for name in rec.plan[len(rec.report.stages) : rec.plan.index("auth")]:
        rec.skip(name, "Not run: the connection must be authorized first.")
    rec.report.stages.append(Stage("auth", "failed", hint=reason))
    raise Stop


class _Recorder(Recorder):
    """The probe's recorder, except that the fetch stage reads mails: each at most the
    MAX_MAIL_BYTES asked for, FETCH_BYTES in all, counted on their own."""

    fetched = 0

    def received(self, size: int, line_limit: int = 0) -> None:
        if self.current != "fetch":
            super().received(size, line_limit)
            return
        if line_limit and size > line_limit:
            self._overflow(f"a line longer than {line_limit // 1024} KiB")
        if not line_limit and size > mailbox.MAX_MAIL_BYTES:  # a literal: one mail
            limit = mailbox.MAX_MAIL_BYTES
            self._overflow(f"{size} bytes for one mail (at most {limit} asked for)")
        self.fetched += size
        if self.fetched > FETCH_BYTES:
            self._overflow(f"more than {FETCH_BYTES // 1024} KiB of mails")


def _session(
    rec: Recorder,
    params: ProbeParams,
    sock: socket.socket,
    then: Callable[[Client, dict[str, list[str]]], None],
) -> None:
    """The probe's IMAP stages up to the Trash Folder, then `then` with the folders."""
    live: dict[str, object] = {"sock": sock, "client": None}
    rec.arm(lambda: live["client"].sock if live["client"] else live["sock"])
    rec.explain = lambda name, exc: imap._explain(name, exc, params)
    if params.ssl:
        with rec.stage("tls") as stage:
            context = tls.context(params.ca_file)
            sock = live["sock"] = context.wrap_socket(sock, server_hostname=params.host)
            stage.detail.update(tls.details(sock))
            stage.reply = f"{stage.detail['version']}, {stage.detail['subject']}"
    with rec.stage("greeting") as stage:
        client = live["client"] = imap.Client(sock, params.host, rec)
        stage.reply = imap._text(client.welcome)
        stage.detail["capabilities"] = list(client.capabilities)
    try:
        if params.starttls:
            imap.starttls(rec, client, params)
        imap.capability(rec, client)
        imap.authenticate(rec, client, params)
        names = imap.folders(rec, client)
        imap.trash_folder(rec, params, names)
        then(client, names)
    finally:
        imap._close(client, rec)


def _work(
    rec: Recorder, client: Client, names: dict[str, list[str]], watch: Watch, trash: str
) -> None:
    report = rec.report
    assert isinstance(report, MonitorReport)
    if watch.action in MOVES:
        with rec.stage("move_folder") as stage:
            stage.detail["folder"] = watch.move_folder
            target = _folder(rec, watch.move_folder, names)
            stage.reply = Own(f"{target} exists")
    with rec.stage("select") as stage:
        folder = _folder(rec, watch.folder, names)
        offered = mailbox.capabilities(client)
        uidvalidity, uidnext = mailbox.select(client, folder)
        stage.detail.update(folder=folder, uidvalidity=uidvalidity)
        if uidvalidity != report.uidvalidity:
            if report.uidvalidity:  # the folder renumbered its mails since the last run
                stage.detail["restarted"] = True
            report.uidvalidity, report.last_uid = uidvalidity, 0
        stage.detail["after_uid"] = report.last_uid
        stage.reply = Own(f"{folder} opened")
    with rec.stage("search") as stage:
        examined, report.waiting = mailbox.unseen_after(client, report.last_uid, MAX_MAILS, uidnext)
        stage.detail.update(found=len(examined), waiting=report.waiting)
        more = f", at least {report.waiting} more for the next run" if report.waiting else ""
        stage.reply = Own(f"{len(examined)} unseen mails not handled yet{more}")
    with rec.stage("fetch") as stage:
        mails = mailbox.fetch(client, examined)
        report.examined = len(mails)
        stage.reply = Own(f"{len(mails)} mails read")
    with rec.stage("match") as stage:
        matched = [mail for mail in mails if _matches(rec, mail, watch.criteria)]
        report.matched = len(matched)
        stage.reply = Own(f"{len(matched)} of {len(mails)} mails match")
    with rec.stage("act") as stage:
        stage.detail["action"] = Action(watch.action).label
        for mail in matched:
            report.matches.append(
                Handled(
                    mail.uid,
                    mail.header("From"),
                    mail.header("Subject"),
                    mail.date(),
                    "not done: the run stopped first",
                )
            )
        for done, mail in zip(report.matches, matched, strict=True):
            # a failure here leaves this mail and the ones after it for the next run
            report.last_uid = max(report.last_uid, mail.uid - 1)
            done.action = _act(client, mail.uid, watch, trash, offered, names)
        if examined:
            report.last_uid = max(report.last_uid, examined[-1])
        stage.reply = Own(f"{len(matched)} mails handled")


def _folder(rec: Recorder, wanted: str, names: dict[str, list[str]]) -> str:
    try:
        return mailbox.find_folder(wanted, names)
    except mailbox.NoSuchFolder:
        existing = rec.scrub(", ".join(sorted(names)))
        raise Failed(
            Own(f"{wanted} is not in the LIST reply"),
            f"Folder '{wanted}' does not exist; existing folders: {existing}.",
        ) from None


def _act(
    client: Client,
    uid: int,
    watch: Watch,
    trash: str,
    offered: set[str],
    names: dict[str, list[str]],
) -> str:
    done = []
    if watch.action in MARKS_READ:
        mailbox.mark_read(client, uid)
        done.append("marked as read")
    target = ""
    if watch.action in DELETES:
        target = mailbox.find_folder(trash, names)
    elif watch.action in MOVES:
        target = mailbox.find_folder(watch.move_folder, names)
    if target:
        try:
            done.append(mailbox.move(client, uid, target, offered))
        except Exception:
            if watch.action in MARKS_READ:
                # unseen again, so that the next run finds it and tries the move again
                with contextlib.suppress(Exception):
                    mailbox.mark_read(client, uid, seen=False)
            raise
    return ", ".join(done)


def _matches(rec: Recorder, mail: mailbox.Mail, criteria: list[Criterion]) -> bool:
    return all(_criterion_matches(rec, mail, criterion) for criterion in criteria)


def _criterion_matches(rec: Recorder, mail: mailbox.Mail, criterion: Criterion) -> bool:
    name = Field(criterion.field)
    text = mail.text() if name == Field.BODY else mail.header(name.label)
    wanted = criterion.value.strip()
    if criterion.operator == Operator.BLANK:
        return not text.strip()
    if criterion.operator == Operator.CONTAINS:
        return wanted.casefold() in text.casefold()
    if criterion.operator == Operator.EQUALS:
        candidates = [text.strip()]
        if name in ADDRESS_FIELDS:
            candidates += mail.addresses(name.label)
        return any(wanted.casefold() == c.casefold() for c in candidates)
    seconds = max(0.001, min(REGEX_SECONDS, rec.remaining()))
    try:
        return regex.search(criterion.value, text, timeout=seconds) is not None
    except TimeoutError:
        raise Failed(
            Own(f"{name.label} regex: no answer within {seconds:g} s on mail UID {mail.uid}"),
            f"The {name.label} regex takes too long on this mail: make it simpler (avoid "
            "nested repeats such as (a+)+).",
        ) from None
    except regex.error as exc:
        raise Failed(Own(f"{name.label}: invalid regex: {exc}"), "Correct the regex.") from None
