"""Refreshing tokens against this app's own OAuth server, which rotates refresh tokens and
refuses a spent one (invalid_grant), as Microsoft does. Access tokens are short-lived here."""

import logging
import re
import threading
import time

import pytest
from django.db import connection as db_connection
from oauth2_provider.signals import app_authorized

from connections.models import EmailConnection
from connections.oauth import tokens
from tests.oauth_provider import (
    CLIENT_SECRET,
    Provider,
    authorize_in_console,
    console_session,
    oauth_connection,
)

pytestmark = pytest.mark.django_db(transaction=True)

# a value in a form body, a query string, JSON or a dict's repr, unless masked
VERIFIER = re.compile(r"code_verifier['\"]?\s*[:=]\s*['\"]?(?!\[redacted\])[\w.~-]{20,}")
CODE = re.compile(r"\bcode['\"]?\s*[:=]\s*['\"]?(?!\[redacted\])[\w.~-]{10,}")


@pytest.fixture
def authorized(
    provider: Provider,
    oauth_client: object,
    short_lived_tokens: int,
    introspection_client: object,
) -> EmailConnection:
    connection = oauth_connection(oauth_client)
    authorize_in_console(provider, connection)
    connection.refresh_from_db()
    assert connection.oauth_authorized
    return connection


def secrets_of(connection: EmailConnection) -> tuple[str, str]:
    connection.refresh_from_db()
    return connection.get_secret("oauth_access_token"), connection.get_secret("oauth_refresh_token")


def test_a_due_token_is_refreshed_and_the_rotated_refresh_token_is_stored(
    provider: Provider, authorized: EmailConnection
) -> None:
    old_access, old_refresh = secrets_of(authorized)
    assert tokens.refresh_due() == 1
    new_access, new_refresh = secrets_of(authorized)
    assert new_access and new_access != old_access
    assert new_refresh and new_refresh != old_refresh
    assert authorized.oauth_refreshed_at is not None
    assert not authorized.oauth_needs_reauth
    assert provider.introspect(new_access)["active"] is True
    assert provider.introspect(old_access)["active"] is False


def test_the_old_refresh_token_is_refused_by_the_provider_after_a_refresh(
    provider: Provider, authorized: EmailConnection
) -> None:
    _, old_refresh = secrets_of(authorized)
    assert tokens.refresh(authorized, force=True)
    answer = provider.refresh(old_refresh)
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_grant"


def test_a_fresh_token_is_not_refreshed_by_the_periodic_job(
    provider: Provider, oauth_client: object
) -> None:
    connection = oauth_connection(oauth_client)
    authorize_in_console(provider, connection)  # an hour of life: not due
    access, refresh = secrets_of(connection)
    assert tokens.refresh_due() == 0
    assert secrets_of(connection) == (access, refresh)


def test_a_refresh_token_revoked_at_the_provider_needs_reauthorization_with_its_error(
    provider: Provider, authorized: EmailConnection
) -> None:
    _, refresh = secrets_of(authorized)
    provider.revoke(refresh, "refresh_token")
    assert tokens.refresh(authorized, force=True) is False
    authorized.refresh_from_db()
    assert authorized.oauth_needs_reauth
    assert "invalid_grant" in authorized.oauth_last_error
    page = console_session(provider).get(f"{provider.base}{authorized.get_absolute_url()}")
    assert "Reauthorization needed" in page.text
    assert "invalid_grant" in page.text
    assert "Reauthorize" in page.text


@pytest.mark.parametrize("force", [False, True], ids=["due", "forced"])
def test_two_refreshes_at_once_do_not_burn_the_refresh_token(
    provider: Provider, authorized: EmailConnection, force: bool
) -> None:
    """The dangerous moment, made certain: the provider has rotated the token but the first
    worker has not stored the new one yet when a second worker starts its refresh. (Two
    requests truly simultaneous are no test: DOT answers both with the same new pair.)"""
    second: list[threading.Thread] = []
    results: list[bool] = []

    def worker() -> None:
        try:
            results.append(tokens.refresh(EmailConnection.objects.get(pk=authorized.pk), force))
        finally:
            db_connection.close()

    def in_the_window(sender: object, **kwargs: object) -> None:
        if not second:  # the first worker's token answer, about to leave the provider
            second.append(threading.Thread(target=worker))
            second[0].start()
            time.sleep(1)

    app_authorized.connect(in_the_window)
    try:
        first = tokens.refresh(EmailConnection.objects.get(pk=authorized.pk), force=force)
    finally:
        app_authorized.disconnect(in_the_window)
    second[0].join(timeout=60)
    assert first
    assert results == [True]
    access, refresh = secrets_of(authorized)
    assert not authorized.oauth_needs_reauth, authorized.oauth_last_error
    assert provider.introspect(access)["active"] is True
    assert provider.refresh(refresh).status_code == 200


def test_no_token_secret_or_verifier_is_logged_even_at_debug(
    provider: Provider,
    oauth_client: object,
    short_lived_tokens: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name in ("", "oauthlib", "requests_oauthlib", "urllib3"):
        caplog.set_level(logging.DEBUG, logger=name or None)
    connection = oauth_connection(oauth_client)
    authorize_in_console(provider, connection)
    first = secrets_of(connection)
    assert tokens.refresh(connection, force=True)
    second = secrets_of(connection)
    assert caplog.records, "nothing was logged: the capture is not working"
    lines = [record.getMessage() for record in caplog.records] + caplog.text.splitlines()
    secrets = [*first, *second, CLIENT_SECRET]
    for line in lines:
        for secret in secrets:
            assert secret not in line
        assert not re.search(r"eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]+", line), "an ID token"
        assert not VERIFIER.search(line), "a PKCE code verifier"
        assert not CODE.search(line), "an authorization code"
