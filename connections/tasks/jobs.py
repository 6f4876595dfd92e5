"""Every worker job, thin: each calls the same function the pages or commands call.

Periodic jobs use `connections.worker.periodic`, which gives each a lock of its own name.
"""

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
