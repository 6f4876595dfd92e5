"""Every worker job, thin: each calls the same function the pages or commands call.

Periodic jobs use `connections.worker.periodic`, which gives each a lock of its own name.
"""

from huey.contrib.djhuey import db_task
from huey.exceptions import RetryTask
from oauth2_provider.models import clear_expired

from connections.worker import crontab, periodic


@periodic(crontab(minute="17", hour="3"), name="clear_expired_api_tokens")
def clear_expired_api_tokens() -> None:
    """Delete expired API access tokens, grants and ID tokens (daily, 03:17 UTC), which
    django-oauth-toolkit would otherwise keep forever (its `cleartokens` command, scheduled)."""
    clear_expired()


@periodic(crontab(minute="*/5"), name="refresh_oauth_tokens")
def refresh_oauth_tokens() -> int:
    """Refresh the OAuth access tokens due for it (every 5 minutes): those expiring within
    OAUTH_REFRESH_BEFORE_SECONDS, and any not refreshed for OAUTH_REFRESH_MAX_AGE_DAYS."""
    from connections.oauth import tokens

    return tokens.refresh_due()


@db_task(name="run_task")
def run_task(run_id: int) -> None:
    """Run one queued task run (Run now or a schedule), as the Runs tab shows it."""
    from connections.tasks import runs

    runs.execute(run_id)


@periodic(crontab(minute="*"), name="run_scheduled_tasks")
def run_scheduled_tasks() -> int:
    """Every minute: a run for each scheduled task that is due (claimed once per due time);
    runs abandoned by a worker that stopped end Failed."""
    from connections.tasks import runs

    runs.fail_abandoned()
    return len(runs.enqueue_due())


@periodic(crontab(minute="*"), name="run_health_checks")
def run_health_checks() -> int:
    """Every minute: a dry-run Test of each connection whose health-check interval passed."""
    from connections import health_checks

    return health_checks.run_due()


@db_task(name="send_notification")
def send_notification(notification_id: int) -> None:
    """Send one notification through the System Connection; a failure is retried later,
    after a delay that doubles each time (NOTIFICATION_ATTEMPTS, NOTIFICATION_RETRY_DELAY)."""
    from connections import notifications

    delay = notifications.deliver(notification_id)
    if delay is not None:
        raise RetryTask(delay=delay.total_seconds())
