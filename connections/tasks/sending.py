"""An Email Task's run: render the message and send it through a stored Outgoing connection.

The SMTP session is the Test probe's (its stages, timing, bounds, trust configuration and
hints); only the message and its recipients differ. BCC recipients are in the envelope only.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import TYPE_CHECKING

from connections.mail import probe, smtp
from connections.mail.report import Report, Stage
from connections.tasks.render import LABELS, Draft, RenderError, render

if TYPE_CHECKING:
    from connections.models import EmailConnection


@dataclass
class Delivery(Report):
    """The Test report's stages for one sent message, with what identifies it."""

    message_id: str = ""
    subject: str = ""
    recipients: list[str] = field(default_factory=list)


@dataclass
class Prepared:
    message: EmailMessage
    recipients: list[str]  # the envelope: To, CC and BCC, each once


def prepare(connection: EmailConnection, draft: Draft) -> Prepared:
    """The message of a rendered draft, From the connection's Email Address.

    Raises RenderError when an address is not valid or no recipient is left.
    """
    from connections.models import split_addresses

    addresses: dict[str, list[str]] = {}
    for name in ("reply_to", "to", "cc", "bcc"):
        good, bad = split_addresses(getattr(draft, name))
        if bad:
            raise RenderError(f"{LABELS[name]}: not a valid email address: {', '.join(bad)}.")
        addresses[name] = good
    envelope: dict[str, str] = {}
    for address in [*addresses["to"], *addresses["cc"], *addresses["bcc"]]:
        envelope.setdefault(address.lower(), address)
    recipients = list(envelope.values())
    if not recipients:
        raise RenderError("Give at least one recipient in To, CC or BCC.")
    sender = connection.email_address
    message = EmailMessage()
    message["From"] = sender
    for name, header in (("reply_to", "Reply-To"), ("to", "To"), ("cc", "Cc")):
        if addresses[name]:
            message[header] = ", ".join(addresses[name])
    message["Subject"] = draft.subject
    message["Date"] = formatdate(localtime=True)
    # a domain of our own: make_msgid would otherwise ask DNS for this host's name
    message["Message-ID"] = make_msgid("task", domain=sender.rpartition("@")[2] or "localhost")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(draft.body)
    return Prepared(message, recipients)


def send(connection: EmailConnection, draft: Draft, values: Mapping[str, str]) -> Delivery:
    """Render draft with values and send it through connection; every failure is in the report.

    `draft` is the task merged over its template (render.merged), `values` the task's
    variables merged with the Run now values (render.variables).
    """
    # imported here: the task models import this package
    from connections import connection_test
    from connections.oauth import tokens

    first, prepared = _message(connection, draft, values)
    if prepared is None:
        report = _not_run(connection)
    else:
        try:
            params = connection_test.params_for(connection, connection)
        except tokens.AuthorizationNeeded as exc:
            report = connection_test.not_authorized(connection, prepared.recipients[0], str(exc))
        else:
            params.message, params.recipients = prepared.message, prepared.recipients
            report = probe.run(params)
    delivery = Delivery(**vars(report))
    delivery.stages.insert(0, first)
    delivery.ok = report.ok and first.status == "ok"
    if prepared is not None:
        delivery.subject = str(prepared.message["Subject"])
        delivery.recipients = prepared.recipients
        if delivery.sent:
            delivery.message_id = str(prepared.message["Message-ID"])
    return delivery


def _message(
    connection: EmailConnection, draft: Draft, values: Mapping[str, str]
) -> tuple[Stage, Prepared | None]:
    """The first stage of the report: the message rendered and made, before any network."""
    stage, started = Stage("message"), time.perf_counter()
    try:
        if not connection.is_outgoing:
            raise RenderError("An Email Task sends mail: choose an Outgoing connection.")
        prepared = prepare(connection, render(draft, values))
    except ValueError as exc:  # RenderError, or a header the email package refuses
        stage.status, stage.reply, stage.hint = "failed", "The message cannot be made.", str(exc)
        prepared = None
    else:
        message = prepared.message
        stage.status, stage.reply = "ok", f"A message to {len(prepared.recipients)} recipients."
        stage.detail.update(
            sender=connection.email_address,
            recipients=prepared.recipients,
            subject=str(message["Subject"]),
            message_id=str(message["Message-ID"]),
        )
    stage.duration_ms = round((time.perf_counter() - started) * 1000, 1)
    return stage, prepared


def _not_run(connection: EmailConnection) -> Report:
    params = probe.ProbeParams(
        "smtp",
        (connection.server or "").strip(),
        int(connection.port or 0),
        connection.enable_ssl,
        connection.enable_starttls,
        auth=connection.authentication,
        recipient="-",  # the plan of a send
    )
    stages = [
        Stage(name, hint="Not run: an earlier stage failed.")
        for name in ["dns", "connect", *smtp.plan(params)]
    ]
    return Report("smtp", params.host, params.port, stages=stages)
