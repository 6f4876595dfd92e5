"""Test a connection: the one entry point the Test button and the API both call.

The stored password is bound to the endpoint it was stored for: a test whose server, port
or user differs from the stored record must bring its own password, so a test can never
be used to send a stored secret to another host.
"""

import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from connections import notifications
from connections.mail import imap, labels, probe, smtp
from connections.mail.report import Report, Stage
from connections.models import EmailConnection
from connections.oauth import tokens
from connections.records import save_state, tracked_fields

log = logging.getLogger(__name__)


class PasswordRequired(Exception):
    """The test changes where the stored password would go; it must be typed again."""

    def __init__(self, changed: list[str]) -> None:
        super().__init__(
            f"{', '.join(changed)} changed: type the password again to test with it "
            "(the stored password is only sent to the server, port and user it was stored for)."
        )
        self.changed = changed


class RateLimited(Exception):
    def __init__(self, wait: int) -> None:
        super().__init__(f"Too many tests: wait {wait} s before testing again.")
        self.wait = wait


ENDPOINT_LABELS = ("Type", "Server", "Port", "User Name")


def moved(connection: EmailConnection, stored: EmailConnection) -> list[str]:
    """What of the endpoint a stored secret is bound to (EmailConnection.endpoint) the
    tested settings change, by label."""
    pairs = zip(ENDPOINT_LABELS, connection.endpoint(), stored.endpoint(), strict=True)
    return [label for label, mine, theirs in pairs if mine != theirs]


def check_rate(user: object) -> None:
    """A fixed window per user (settings.MAIL_TEST_RATE, e.g. "20/minute")."""
    count, _, unit = settings.MAIL_TEST_RATE.partition("/")
    window = {"second": 1, "minute": 60, "hour": 3600}.get(unit.strip() or "minute", 60)
    bucket = int(time.time() // window)
    key = f"connection-test:{getattr(user, 'pk', 'anon')}:{bucket}"
    cache.add(key, 0, window)
    if cache.incr(key) > int(count):
        raise RateLimited(window - int(time.time()) % window)


def params_for(
    connection: EmailConnection,
    stored: EmailConnection | None,
    password: str = "",
    recipient: str = "",
) -> probe.ProbeParams:
    auth = connection.authentication
    access_token = ""
    use_stored = auth == EmailConnection.Auth.PASSWORD and not password
    if use_stored and stored is not None and stored.has_secret("password"):
        changed = moved(connection, stored)
        if changed:
            raise PasswordRequired(changed)
        password = stored.get_secret("password")
    if auth == EmailConnection.Auth.OAUTH2:
        access_token = stored_token(connection, stored)
    return probe.ProbeParams(
        protocol="smtp" if connection.is_outgoing else "imap",
        host=(connection.server or "").strip(),
        port=int(connection.port),
        ssl=connection.enable_ssl,
        starttls=connection.enable_starttls,
        auth=auth,
        username=connection.user_name,
        password=password,
        access_token=access_token,
        email_address=connection.email_address,
        trash_folder="" if connection.is_outgoing else connection.trash_folder,
        recipient=recipient if connection.is_outgoing else "",
        timeout=settings.MAIL_TEST_TIMEOUT,
        total_timeout=settings.MAIL_TEST_TOTAL_TIMEOUT,
        ca_file=settings.MAIL_TEST_CA_BUNDLE,
    )


def stored_token(connection: EmailConnection, stored: EmailConnection | None) -> str:
    """The stored access token (refreshed when expired), only for what it was authorized for.

    Raises tokens.AuthorizationNeeded when there is none, or when the tested settings would
    send it to another Type, server, port or user, or through another OAuth Client.
    """
    if stored is None or not stored.pk or not stored.uses_oauth:
        raise tokens.AuthorizationNeeded(
            "authorize first: save the connection with OAuth 2.0, then click Authorize."
        )
    changed = moved(connection, stored)
    if connection.oauth_client_id != stored.oauth_client_id:
        changed.append("OAuth Client")
    if changed and stored.oauth_authorized:
        raise tokens.AuthorizationNeeded(
            f"{', '.join(changed)} changed: authorize first (the stored token is only sent to "
            "the server, port and user it was authorized for): save, then click Authorize."
        )
    return tokens.access_token(stored)


def not_authorized(connection: EmailConnection, recipient: str, reason: str) -> Report:
    """The report of a Test that cannot log in without an authorization: failed at AUTH,
    with nothing sent over the network."""
    params = probe.ProbeParams(
        protocol="smtp" if connection.is_outgoing else "imap",
        host=(connection.server or "").strip(),
        port=int(connection.port or 0),
        ssl=connection.enable_ssl,
        starttls=connection.enable_starttls,
        auth=connection.authentication,
        recipient=recipient if connection.is_outgoing else "",
    )
    protocol = smtp if connection.is_outgoing else imap
    plan = ["dns", "connect", *protocol.plan(params)]
    at = plan.index("auth")
    stages = [
        Stage(name, hint="Not run: the connection must be authorized first.") for name in plan
    ]
    stages[at] = Stage("auth", "failed", hint=reason)
    for stage in stages[at + 1 :]:
        stage.hint = "Not run: an earlier stage failed."
    return Report(params.protocol, params.host, params.port, ok=False, stages=stages)


def run_test(
    connection: EmailConnection,
    user: object,
    stored: EmailConnection | None = None,
    password: str = "",
    recipient: str = "",
) -> Report:
    """Probe `connection` (stored or unsaved values); `stored` is the record it came from.

    The result is kept on the stored record when the tested settings are its own.
    """
    if user is not None:  # the worker's health checks (no user) are not rate-limited
        check_rate(user)
    try:
        params = params_for(connection, stored, password, recipient)
    except tokens.AuthorizationNeeded as exc:
        report = not_authorized(connection, recipient, str(exc))
    else:
        report = probe.run(params)
    log.info(
        "connection test by %s: %s %s:%s ok=%s failed_stage=%s sent=%s",
        getattr(user, "username", "?"),
        report.protocol,
        report.host,
        report.port,
        report.ok,
        report.failed_stage.name if report.failed_stage else "",
        report.sent,
    )
    typed_other = password and stored is not None and password != stored.get_secret("password")
    if stored is not None and stored.pk and same_settings(connection, stored) and not typed_other:
        failed = report.failed_stage
        summary = (
            "All stages passed." if report.ok else f"{labels.stage(failed.name)}: {failed.hint}"
        )
        now = timezone.now()
        passed = {"last_passed_at": now} if report.ok else {}
        was_ok = EmailConnection.objects.filter(pk=stored.pk).values_list("last_test_ok").get()[0]
        save_state(
            stored, last_test_at=now, last_test_ok=report.ok, last_test_summary=summary, **passed
        )
        notifications.connection_tested(stored, was_ok, report)
    return report


# What a Test depends on: the versioned settings less those that only name or group it.
NOT_TESTED = {"name", "description", "system_connection", "password_changed_at", "health_check"}


def same_settings(connection: EmailConnection, stored: EmailConnection) -> bool:
    fields = [f for f in tracked_fields(EmailConnection) if f not in NOT_TESTED]
    return all(getattr(connection, f) == getattr(stored, f) for f in fields)
