"""Notification mails: once per change of state, through the System Connection (SPEC 7).

The places where a state changes call one function each: `connection_tested` (Test and
health checks, via run_test), `authorization_failed` / `authorized_again` (token refresh,
Authorize), `task_ended` (task runs). Each logs a `Notification` and queues its delivery on
the worker, which sends it through the System Connection (`tasks.sending.send`, so OAuth
2.0 connections use their token) with retries and a growing delay. Mails name the record,
what changed, the failing stage and its hint, and a link; never a secret.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.utils import timezone

from connections.mail import labels
from connections.mail.report import Report
from connections.models import EmailConnection, Record, split_addresses
from connections.notification_models import Event, Notification, NotificationSettings, Status

log = logging.getLogger(__name__)

NO_SYSTEM_CONNECTION = (
    "No System Connection: mark an Outgoing connection as the System Connection to send "
    "notifications."
)


def system_connection() -> EmailConnection | None:
    # Unordered: there is at most one, and its partial unique index finds it (first() would
    # sort by name and read the whole table on every list page).
    return next(iter(EmailConnection.objects.filter(system_connection=True).order_by()[:1]), None)


def connection_tested(connection: EmailConnection, was_ok: bool | None, report: Report) -> None:
    """A stored connection's Test result changed from was_ok to report.ok: tell once."""
    if was_ok is True and not report.ok:
        failed = report.failed_stage
        stage = labels.stage(failed.name) if failed else ""
        notify(
            Event.CONNECTION_FAILING,
            connection,
            "Status: OK -> Failing.",
            stage=stage,
            hint=failed.hint if failed else "",
        )
    elif was_ok is False and report.ok:
        notify(Event.CONNECTION_RECOVERED, connection, "Status: Failing -> OK (all stages passed).")


def authorization_failed(connection: EmailConnection, error: str) -> None:
    notify(
        Event.AUTHORIZATION_FAILED,
        connection,
        "The OAuth token could not be refreshed: Reauthorization needed.",
        stage="OAuth token refresh",
        hint=f"{error} Open the connection and click Reauthorize.",
    )


def authorized_again(connection: EmailConnection) -> None:
    notify(
        Event.AUTHORIZED_AGAIN, connection, "Authorized again: Reauthorization no longer needed."
    )


def task_ended(task: Record, previous: str, status: str, message: str) -> None:
    """A task run ended with status (succeeded/failed); previous: the last run's before it."""
    if status == "failed" and previous != "failed":
        notify(Event.TASK_FAILED, task, "A run failed.", hint=message)
    elif status == "succeeded" and previous == "failed":
        notify(Event.TASK_RECOVERED, task, "A run succeeded again after failing.")


def recipients(event: str, record: Record) -> list[str]:
    """The settings' recipients of event (else the superusers'), plus the record's own."""
    found = NotificationSettings.current().recipients(event) or superuser_addresses()
    own, _ = split_addresses(getattr(record, "notify_addresses", ""))
    unique: dict[str, str] = {}
    for address in [*found, *own]:
        unique.setdefault(address.lower(), address)
    return list(unique.values())


def superuser_addresses() -> list[str]:
    superusers = get_user_model().objects.filter(is_superuser=True, is_active=True)
    return [u.email for u in superusers.order_by("pk") if u.email]


def link(record: Record) -> str:
    path = record.get_absolute_url()
    return f"{settings.PUBLIC_BASE_URL}{path}" if settings.PUBLIC_BASE_URL else path


def notify(
    event: str, record: Record, changed: str, stage: str = "", hint: str = ""
) -> Notification:
    """Log the notification and queue its delivery (after the current transaction)."""
    kind = str(record._meta.verbose_name)
    label = Event(event).label
    subject = f'[Email Connections] {kind} "{record.name}": {label}'
    lines = [f'{kind} "{record.name}": {label}.', "", f"What changed: {changed}"]
    if stage:
        lines.append(f"Failing stage: {stage}")
    if hint:
        lines.append(f"Hint: {hint}")
    url = link(record)
    lines += ["", f"Open it: {url}"]
    if not settings.PUBLIC_BASE_URL:
        lines.append("(Set PUBLIC_BASE_URL for a full link.)")
    to = recipients(event, record)
    notification = Notification.objects.create(
        event=event,
        record_type=kind,
        record_name=record.name,
        link=url,
        subject=subject,
        body="\n".join(lines) + "\n",
        recipients=", ".join(to),
        status=Status.QUEUED,
    )
    problem = "" if to else "No recipients: no addresses set and no superuser with an address."
    if not problem and system_connection() is None:
        problem = NO_SYSTEM_CONNECTION
    if problem:
        notification.status, notification.error = Status.FAILED, problem
        notification.save(update_fields=["status", "error"])
        log.warning("notification %s not sent: %s", notification.pk, problem)
        return notification
    from connections.tasks import jobs
    from connections.worker import enqueue_after_commit

    enqueue_after_commit(jobs.send_notification, notification.pk)
    return notification


def retry_delay(attempts: int) -> timedelta:
    """The wait after a failed attempt: NOTIFICATION_RETRY_DELAY, doubled each time."""
    return timedelta(seconds=settings.NOTIFICATION_RETRY_DELAY * 2 ** (attempts - 1))


def deliver(pk: int) -> timedelta | None:
    """Send a queued notification through the System Connection.

    Returns the delay after which to try again, or None when it is done (sent, or failed
    for good after NOTIFICATION_ATTEMPTS attempts).
    """
    from connections.tasks import sending
    from connections.tasks.render import Draft

    notification = Notification.objects.filter(pk=pk, status=Status.QUEUED).first()
    if notification is None:
        return None
    connection = system_connection()
    notification.attempts += 1
    if connection is None:
        notification.error = NO_SYSTEM_CONNECTION
    else:
        # The text is sent as it is: "$" would be a placeholder to the renderer.
        draft = Draft(
            to=notification.recipients,
            subject=notification.subject.replace("$", "$$"),
            body=notification.body.replace("$", "$$"),
        )
        delivery = sending.send(connection, draft, {})
        if delivery.sent:
            notification.status, notification.sent_at = Status.SENT, timezone.now()
            notification.error = ""
            notification.save()
            return None
        failed = delivery.failed_stage
        reason = f"{labels.stage(failed.name)}: {failed.hint}" if failed else "not sent"
        notification.error = f'Through "{connection.name}": {reason}'
    again = notification.attempts < settings.NOTIFICATION_ATTEMPTS
    if not again:
        notification.status = Status.FAILED
    notification.save()
    log.warning(
        "notification %s attempt %s failed: %s", pk, notification.attempts, notification.error
    )
    return retry_delay(notification.attempts) if again else None
