"""Health checks: the worker tests each connection on its own interval (SPEC 7).

A health check is the Test button's dry run (`connection_test.run_test` on the stored
record, no recipient: nothing is sent), so it updates the Status and Last Test columns the
same way. Interval per connection: Off, 15 minutes, hourly, daily, or the default (hourly
once a Test has passed; a connection never seen working is not checked on its own).
"""

import logging
from datetime import datetime

from django.utils import timezone

from connections import connection_test
from connections.mail.report import Report
from connections.models import EmailConnection

log = logging.getLogger(__name__)


def due(now: datetime | None = None) -> list[EmailConnection]:
    """The connections whose interval has passed since their last test."""
    now = now or timezone.now()
    found = []
    candidates = EmailConnection.objects.exclude(health_check="off").select_related("oauth_client")
    for connection in candidates.order_by("last_test_at", "pk"):
        interval = connection.health_check_interval()
        if interval and (
            connection.last_test_at is None or connection.last_test_at + interval <= now
        ):
            found.append(connection)
    return found


def check(connection: EmailConnection) -> Report:
    """One health check: a dry-run Test of the stored connection, as the system."""
    return connection_test.run_test(connection, None, stored=connection)


def run_due() -> int:
    """Check every due connection; one that cannot be checked does not stop the others."""
    checked = 0
    for connection in due():
        try:
            report = check(connection)
        except Exception:
            log.exception("health check of connection %s failed to run", connection.pk)
            continue
        checked += 1
        log.info("health check of connection %s: ok=%s", connection.pk, report.ok)
    return checked
