"""Stored tokens: store after Authorize, refresh (on schedule and on use), hand out.

Tokens are encrypted at rest (crypto.py, like passwords) and never logged or shown. A
rotated refresh token is stored in the same UPDATE as the new access token, and a refresh
holds the connection's lease (oauth_refresh_lease), so two workers never spend one
refresh token.
"""

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from connections import crypto, notifications
from connections.models import EmailConnection
from connections.oauth import http, providers
from connections.records import save_state

log = logging.getLogger(__name__)

# Errors after which only a person can help: the grant is revoked or expired, consent was
# withdrawn, the app was disabled or its secret expired.
REAUTHORIZE_ERRORS = {
    "invalid_grant",
    "unauthorized_client",
    "invalid_client",
    "access_denied",
    "consent_required",
    "interaction_required",
    "invalid_scope",
}
# An access token this close to its expiry is refreshed before it is used.
USE_MARGIN = timedelta(seconds=60)


class AuthorizationNeeded(Exception):
    """The connection has no usable token: an operator must Authorize (again)."""


def expires_at(token: dict[str, Any]) -> datetime | None:
    """When the access token expires (oauthlib adds expires_at from expires_in)."""
    try:
        if token.get("expires_at"):
            return datetime.fromtimestamp(float(token["expires_at"]), tz=UTC)
        if token.get("expires_in"):
            return timezone.now() + timedelta(seconds=float(token["expires_in"]))
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    return None


def granted_scopes(token: dict[str, Any]) -> str:
    scope = token.get("scope") or ""
    return " ".join(scope) if isinstance(scope, list | tuple) else str(scope)


def store(connection: EmailConnection, token: dict[str, Any], account: str) -> None:
    """A fresh authorization: the tokens (encrypted), the account and what was granted."""
    renewed = EmailConnection.objects.filter(pk=connection.pk, oauth_needs_reauth=True).exists()
    with transaction.atomic():
        save_state(
            connection,
            oauth_authorized=True,
            oauth_account=account,
            oauth_scopes=granted_scopes(token),
            oauth_access_token_enc=crypto.encrypt(token.get("access_token", "")),
            oauth_refresh_token_enc=crypto.encrypt(token.get("refresh_token", "")),
            oauth_expires_at=expires_at(token),
            oauth_authorized_at=timezone.now(),
            oauth_refreshed_at=None,
            oauth_last_error="",
            oauth_needs_reauth=False,
        )
        if renewed:
            notifications.authorized_again(connection)


def forget(connection: EmailConnection) -> None:
    """Every authorization-state field back to its default (tokens included)."""
    values = {
        name: EmailConnection._meta.get_field(name).get_default()
        for name in EmailConnection.state_fields
        if name.startswith("oauth_")
    }
    save_state(connection, **values)


def is_due(connection: EmailConnection, now: datetime | None = None) -> bool:
    """Expiring within OAUTH_REFRESH_BEFORE_SECONDS, or not refreshed for the maximum age."""
    now = now or timezone.now()
    before = timedelta(seconds=settings.OAUTH_REFRESH_BEFORE_SECONDS)
    max_age = timedelta(days=settings.OAUTH_REFRESH_MAX_AGE_DAYS)
    if connection.oauth_expires_at is None or connection.oauth_expires_at <= now + before:
        return True
    last = connection.oauth_refreshed_at or connection.oauth_authorized_at
    return last is None or last <= now - max_age


def refreshable() -> Any:
    return EmailConnection.objects.filter(
        authentication=EmailConnection.Auth.OAUTH2,
        oauth_authorized=True,
        oauth_needs_reauth=False,
        oauth_client__isnull=False,
    ).exclude(oauth_refresh_token_enc="")


def lease_length() -> timedelta:
    """How long a refresh may hold its claim: the provider call's bound, with a margin. A
    worker that died mid-refresh leaves a claim that simply runs out."""
    return timedelta(seconds=3 * settings.OAUTH_HTTP_TIMEOUT + 5)


def claim(pk: int) -> bool:
    """Take the connection's refresh lease (one conditional UPDATE, atomic on every database).

    The lease, not a transaction, is held during the call to the provider: a write
    transaction would lock a whole SQLite database for that long, the provider's own
    writes included when it is this app's OAuth server.
    """
    now = timezone.now()
    free = Q(oauth_refresh_lease__isnull=True) | Q(oauth_refresh_lease__lt=now)
    claimed = refreshable().filter(free, pk=pk).update(oauth_refresh_lease=now + lease_length())
    return claimed == 1


def refresh(connection: EmailConnection, force: bool = False) -> bool:
    """Refresh the access token; True when a new one is stored (here or by another worker).

    Without force only a due token is refreshed. With force (an expired token, about to be
    used) it is refreshed unless another worker did so since `connection` was read. Two
    workers never send the same refresh token: each refresh holds the connection's lease,
    and the checks run again once it is taken.
    """
    seen = connection.oauth_refreshed_at
    deadline = time.monotonic() + lease_length().total_seconds()
    done = False
    while True:
        current = refreshable().select_related("oauth_client").filter(pk=connection.pk).first()
        if current is None:
            break
        if force and current.oauth_refreshed_at and current.oauth_refreshed_at != seen:
            done = True  # another worker refreshed it meanwhile
            break
        if not (force or is_due(current)):
            break
        if claim(current.pk):
            try:
                current = refreshable().select_related("oauth_client").get(pk=current.pk)
                if force and current.oauth_refreshed_at != seen and current.oauth_refreshed_at:
                    done = True
                elif force or is_due(current):
                    done = _refresh_claimed(current)
            finally:
                EmailConnection.objects.filter(pk=current.pk).update(oauth_refresh_lease=None)
            break
        if time.monotonic() > deadline:
            log.warning("token refresh of connection %s: still claimed, gave up", connection.pk)
            break
        time.sleep(0.2)
    fresh = EmailConnection.objects.filter(pk=connection.pk).first()
    if fresh is not None:
        for name in EmailConnection.state_fields:
            setattr(connection, name, getattr(fresh, name))
    return done


def _refresh_claimed(connection: EmailConnection) -> bool:
    client = connection.oauth_client
    token_url = providers.endpoints(client)["token_endpoint"]
    old_refresh = connection.get_secret("oauth_refresh_token")
    # Stored only if the authorization is still the one refreshed (not forgotten by an
    # Update or a Disconnect, nor replaced by a Reauthorize, while the provider answered).
    same = EmailConnection.objects.filter(
        pk=connection.pk, oauth_refresh_token_enc=connection.oauth_refresh_token_enc
    )
    try:
        token = http.refresh(
            client.client_id,
            client.get_secret("client_secret"),
            token_url,
            old_refresh,
            providers.refresh_scopes(client),
        )
        if not token.get("access_token"):
            raise http.ProviderError("The token endpoint answered without an access token.")
    except http.ProviderError as exc:
        needs_reauth = exc.error in REAUTHORIZE_ERRORS
        log.warning(
            "token refresh of connection %s failed (%s)%s",
            connection.pk,
            exc.error or "no answer",
            ": reauthorization needed" if needs_reauth else "",
        )
        marked = same.update(oauth_last_error=str(exc)[:2000], oauth_needs_reauth=needs_reauth)
        if marked and needs_reauth:
            notifications.authorization_failed(connection, str(exc)[:500])
        return False
    values: dict[str, Any] = {
        "oauth_access_token_enc": crypto.encrypt(token["access_token"]),
        "oauth_expires_at": expires_at(token),
        "oauth_refreshed_at": timezone.now(),
        "oauth_last_error": "",
    }
    new_refresh = token.get("refresh_token")
    if new_refresh and new_refresh != old_refresh:
        # Microsoft and DOT rotate it: the old one is dead from now on.
        values["oauth_refresh_token_enc"] = crypto.encrypt(new_refresh)
    if token.get("scope"):
        values["oauth_scopes"] = granted_scopes(token)
    # One UPDATE: the rotated refresh token and the access token land together or not at all.
    with transaction.atomic():
        stored = same.update(**values)
    if not stored:
        log.warning(
            "token refresh of connection %s: authorization changed meanwhile", connection.pk
        )
        return False
    log.info("token of connection %s refreshed", connection.pk)
    return True


def refresh_due(now: datetime | None = None) -> int:
    """The periodic job: refresh every due token; returns how many were refreshed."""
    now = now or timezone.now()
    before = now + timedelta(seconds=settings.OAUTH_REFRESH_BEFORE_SECONDS)
    stale = now - timedelta(days=settings.OAUTH_REFRESH_MAX_AGE_DAYS)
    due = refreshable().filter(
        Q(oauth_expires_at__isnull=True)
        | Q(oauth_expires_at__lte=before)
        | Q(oauth_refreshed_at__lte=stale)
        | Q(oauth_refreshed_at__isnull=True, oauth_authorized_at__lte=stale)
        | Q(oauth_refreshed_at__isnull=True, oauth_authorized_at__isnull=True)
    )
    # Expired with nothing to renew it by: say so now rather than at the next send.
    dead = EmailConnection.objects.filter(
        authentication=EmailConnection.Auth.OAUTH2,
        oauth_authorized=True,
        oauth_needs_reauth=False,
        oauth_refresh_token_enc="",
        oauth_expires_at__lte=now,
    )
    error = "The access token expired and the provider gave no refresh token."
    for connection in dead:
        if dead.filter(pk=connection.pk).update(oauth_needs_reauth=True, oauth_last_error=error):
            notifications.authorization_failed(connection, error)
    refreshed = 0
    for pk in due.values_list("pk", flat=True):
        connection = EmailConnection(pk=pk)
        refreshed += refresh(connection, force=False)
    return refreshed


def access_token(connection: EmailConnection) -> str:
    """The stored access token, refreshed first when it has expired."""
    if not connection.uses_oauth or not connection.oauth_authorized:
        raise AuthorizationNeeded(
            "authorize first: this connection has no OAuth authorization "
            "(click Authorize on the connection's page)."
        )
    expiry = connection.oauth_expires_at
    if expiry is not None and expiry <= timezone.now() + USE_MARGIN:
        if connection.oauth_needs_reauth or not connection.has_secret("oauth_refresh_token"):
            raise AuthorizationNeeded(
                "authorize first: the access token has expired and cannot be refreshed "
                f"({connection.oauth_last_error or 'no refresh token'}): click Reauthorize."
            )
        if not refresh(connection, force=True):
            raise AuthorizationNeeded(
                "authorize first: the expired access token could not be refreshed "
                f"({connection.oauth_last_error}): "
                + ("click Reauthorize." if connection.oauth_needs_reauth else "try again later.")
            )
    token = connection.get_secret("oauth_access_token")
    if not token:
        raise AuthorizationNeeded("authorize first: no access token is stored.")
    return token
