"""Authorize, the callback and Disconnect through the pages; the Test of an OAuth connection.

The provider here is a loopback HTTP server standing in for a Custom provider's token
endpoint (plain http is allowed to loopback only), or a socket that never answers.
"""

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from connections import crypto
from connections.connection_test import run_test
from connections.models import EmailConnection, OAuthClient
from connections.oauth import flow
from connections.records import save_state
from tests.factories import make_connection, make_oauth_client, text
from tests.test_oauth_providers import id_token, start

pytestmark = pytest.mark.django_db

CALLBACK = "/oauth/callback/"


class TokenEndpoint:
    """A loopback token endpoint: answers every POST with `answer`, keeps the forms."""

    def __init__(self) -> None:
        self.forms: list[dict[str, str]] = []
        self.answer: dict[str, Any] = {}
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode()
                endpoint.forms.append({k: v[0] for k, v in parse_qs(body).items()})
                status = endpoint.answer.get("_status", 200)
                payload = {k: v for k, v in endpoint.answer.items() if k != "_status"}
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def grant(self, account: str, client_id: str = "local-app", **extra: Any) -> None:
        self.answer = {
            "access_token": "secret-access-token",
            "refresh_token": "secret-refresh-token",
            "token_type": "Bearer",
            "expires_in": 3600,
            "scope": "openid email smtp",
            "id_token": id_token(aud=client_id, exp=time.time() + 300, email=account),
            **extra,
        }


@pytest.fixture
def token_endpoint() -> Iterator[TokenEndpoint]:
    endpoint = TokenEndpoint()
    yield endpoint
    endpoint.server.shutdown()
    endpoint.server.server_close()


@pytest.fixture
def silent_endpoint() -> Iterator[str]:
    """A loopback port that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    listener.close()


def local_client(base: str, **values: Any) -> OAuthClient:
    return make_oauth_client(
        name=values.pop("name", "Local"),
        provider="custom",
        client_id="local-app",
        authorization_endpoint=f"{base}/authorize",
        token_endpoint=f"{base}/token",
        scopes="openid email smtp",
        **values,
    )


def oauth_connection(client: OAuthClient, **values: Any) -> EmailConnection:
    return make_connection(
        name=values.pop("name", "Mailbox"),
        authentication=EmailConnection.Auth.OAUTH2,
        oauth_client=client,
        user_name=values.pop("user_name", "mailbox@example.com"),
        smtp_server="127.0.0.1",
        smtp_port=2525,
        **values,
    )


def stored(connection: EmailConnection) -> EmailConnection:
    return EmailConnection.objects.get(pk=connection.pk)


def nothing_stored(connection: EmailConnection) -> bool:
    row = stored(connection)
    return not row.oauth_authorized and not row.oauth_access_token_enc


def test_a_callback_through_a_loopback_provider_authorizes_the_connection(
    admin_client_logged: Client, token_endpoint: TokenEndpoint
) -> None:
    connection = oauth_connection(local_client(token_endpoint.url))
    params = start(admin_client_logged, connection)
    assert params["url"].startswith(f"{token_endpoint.url}/authorize?")
    token_endpoint.grant("MAILBOX@example.com")
    response = admin_client_logged.get(
        CALLBACK, {"state": params["state"], "code": "c0de"}, follow=True
    )
    page = text(response)
    assert 'Email Connection "Mailbox" authorized as mailbox@example.com.' in page
    assert token_endpoint.forms[0]["code"] == "c0de"
    row = stored(connection)
    assert row.oauth_authorized and row.oauth_account == "mailbox@example.com"
    assert row.get_secret("oauth_access_token") == "secret-access-token"
    assert "secret-access-token" not in page and "secret-refresh-token" not in page
    # plain http reached the loopback provider without lifting oauthlib's check process-wide
    assert "OAUTHLIB_INSECURE_TRANSPORT" not in os.environ


def test_plain_http_to_a_provider_that_is_not_loopback_is_refused(
    admin_client_logged: Client,
) -> None:
    connection = oauth_connection(local_client("http://id.example.com"))
    response = admin_client_logged.post(f"/connections/{connection.pk}/authorize/", follow=True)
    assert "a provider must use https" in text(response)
    assert flow.SESSION_KEY not in admin_client_logged.session


def test_a_callback_without_state_is_refused(admin_client_logged: Client) -> None:
    response = admin_client_logged.get(CALLBACK, {"code": "c"})
    assert response.status_code == 400
    assert "has no state" in text(response)


def test_a_forged_state_is_refused_and_nothing_is_stored(
    admin_client_logged: Client, token_endpoint: TokenEndpoint
) -> None:
    connection = oauth_connection(local_client(token_endpoint.url))
    start(admin_client_logged, connection)
    token_endpoint.grant("mailbox@example.com")
    response = admin_client_logged.get(CALLBACK, {"state": f"{connection.pk}.forged", "code": "c"})
    assert response.status_code == 400
    assert "unknown here" in text(response)
    assert token_endpoint.forms == []
    assert nothing_stored(connection)


def test_a_replayed_state_is_refused(
    admin_client_logged: Client, token_endpoint: TokenEndpoint
) -> None:
    connection = oauth_connection(local_client(token_endpoint.url))
    params = start(admin_client_logged, connection)
    token_endpoint.grant("mailbox@example.com")
    admin_client_logged.get(CALLBACK, {"state": params["state"], "code": "c"})
    response = admin_client_logged.get(CALLBACK, {"state": params["state"], "code": "c"})
    assert response.status_code == 400
    assert "already used" in text(response)
    assert len(token_endpoint.forms) == 1


def test_an_expired_state_is_refused(
    admin_client_logged: Client, token_endpoint: TokenEndpoint
) -> None:
    connection = oauth_connection(local_client(token_endpoint.url))
    params = start(admin_client_logged, connection)
    session = admin_client_logged.session
    nonce = params["state"].split(".", 1)[1]
    session[flow.SESSION_KEY][nonce]["at"] -= 601
    session.save()
    token_endpoint.grant("mailbox@example.com")
    response = admin_client_logged.get(
        CALLBACK, {"state": params["state"], "code": "c"}, follow=True
    )
    assert "longer than 10 minutes and has expired" in text(response)
    assert token_endpoint.forms == []
    assert nothing_stored(connection)


def test_a_state_from_another_session_is_refused(
    admin_client_logged: Client, admin_user: Any, token_endpoint: TokenEndpoint
) -> None:
    connection = oauth_connection(local_client(token_endpoint.url))
    params = start(admin_client_logged, connection)
    other = Client()
    other.force_login(admin_user)
    token_endpoint.grant("mailbox@example.com")
    response = other.get(CALLBACK, {"state": params["state"], "code": "c"})
    assert response.status_code == 400
    assert "another browser session" in text(response)
    assert nothing_stored(connection)


def test_a_state_bound_to_another_connection_is_refused(
    admin_client_logged: Client, token_endpoint: TokenEndpoint
) -> None:
    client = local_client(token_endpoint.url)
    first = oauth_connection(client)
    second = oauth_connection(client, name="Other")
    params = start(admin_client_logged, first)
    nonce = params["state"].split(".", 1)[1]
    token_endpoint.grant("mailbox@example.com")
    response = admin_client_logged.get(
        CALLBACK, {"state": f"{second.pk}.{nonce}", "code": "c"}, follow=True
    )
    assert "started for another connection" in text(response)
    assert nothing_stored(first) and nothing_stored(second)


def test_a_connection_changed_during_authorization_is_not_authorized(
    admin_client_logged: Client, token_endpoint: TokenEndpoint
) -> None:
    connection = oauth_connection(local_client(token_endpoint.url))
    params = start(admin_client_logged, connection)
    EmailConnection.objects.filter(pk=connection.pk).update(smtp_server="mail.elsewhere.com")
    token_endpoint.grant("mailbox@example.com")
    response = admin_client_logged.get(
        CALLBACK, {"state": params["state"], "code": "c"}, follow=True
    )
    assert "changed while it was being authorized" in text(response)
    assert nothing_stored(connection)


def test_access_denied_is_shown_on_the_connection_without_a_traceback(
    admin_client_logged: Client, token_endpoint: TokenEndpoint
) -> None:
    connection = oauth_connection(local_client(token_endpoint.url))
    params = start(admin_client_logged, connection)
    response = admin_client_logged.get(
        CALLBACK,
        {
            "state": params["state"],
            "error": "access_denied",
            "error_description": "The user declined <consent>.",
        },
        follow=True,
    )
    assert response.redirect_chain[-1][0] == connection.get_absolute_url()
    page = text(response)
    assert "The provider refused the authorization: access_denied: The user declined" in page
    assert "<consent>" not in response.content.decode()
    assert "Traceback" not in page
    row = stored(connection)
    assert not row.oauth_authorized
    assert "access_denied" in row.oauth_last_error


def test_signing_in_as_another_account_stores_nothing_and_says_who_to_sign_in_as(
    admin_client_logged: Client, token_endpoint: TokenEndpoint
) -> None:
    connection = oauth_connection(local_client(token_endpoint.url))
    params = start(admin_client_logged, connection)
    token_endpoint.grant("operator@example.com")
    response = admin_client_logged.get(
        CALLBACK, {"state": params["state"], "code": "c"}, follow=True
    )
    assert (
        "You signed in as operator@example.com, but this connection logs in as "
        "mailbox@example.com: sign in as mailbox@example.com (a private browser window avoids "
        "being signed in automatically)"
    ) in text(response)
    assert nothing_stored(connection)


def test_an_id_token_issued_to_another_client_is_refused(
    admin_client_logged: Client, token_endpoint: TokenEndpoint
) -> None:
    connection = oauth_connection(local_client(token_endpoint.url))
    params = start(admin_client_logged, connection)
    token_endpoint.grant("mailbox@example.com", client_id="someone-else")
    response = admin_client_logged.get(
        CALLBACK, {"state": params["state"], "code": "c"}, follow=True
    )
    assert "issued to another client" in text(response)
    assert nothing_stored(connection)


def test_a_refused_code_exchange_shows_the_providers_error(
    admin_client_logged: Client, token_endpoint: TokenEndpoint
) -> None:
    connection = oauth_connection(local_client(token_endpoint.url))
    params = start(admin_client_logged, connection)
    token_endpoint.answer = {
        "_status": 400,
        "error": "invalid_grant",
        "error_description": "Code expired.",
    }
    response = admin_client_logged.get(
        CALLBACK, {"state": params["state"], "code": "c"}, follow=True
    )
    assert "The provider refused: invalid_grant: Code expired." in text(response)
    assert nothing_stored(connection)


def test_a_provider_that_never_answers_fails_in_bounded_time_with_a_message(
    admin_client_logged: Client, silent_endpoint: str, settings: Any
) -> None:
    settings.OAUTH_HTTP_TIMEOUT = 1
    connection = oauth_connection(local_client(silent_endpoint))
    params = start(admin_client_logged, connection)
    began = time.monotonic()
    response = admin_client_logged.get(
        CALLBACK, {"state": params["state"], "code": "c"}, follow=True
    )
    assert time.monotonic() - began < 5
    assert "did not answer within 1 s" in text(response)
    assert nothing_stored(connection)


def test_authorize_on_a_password_connection_is_refused(admin_client_logged: Client) -> None:
    connection = make_connection()
    response = admin_client_logged.post(f"/connections/{connection.pk}/authorize/", follow=True)
    assert response.status_code == 200
    assert "does not use OAuth 2.0" in text(response)
    assert flow.SESSION_KEY not in admin_client_logged.session


def test_authorize_with_an_oauth_client_without_client_id_is_refused(
    admin_client_logged: Client,
) -> None:
    client = local_client("https://id.example.com")
    connection = oauth_connection(client)
    OAuthClient.objects.filter(pk=client.pk).update(client_id=" ")
    response = admin_client_logged.post(f"/connections/{connection.pk}/authorize/", follow=True)
    assert 'OAuth Client "Local" has no Client ID' in text(response)


def test_an_unsaved_connection_cannot_be_authorized() -> None:
    client = local_client("https://id.example.com")
    unsaved = EmailConnection(
        name="New", authentication=EmailConnection.Auth.OAUTH2, oauth_client=client
    )
    with pytest.raises(flow.AuthorizeError, match="Save the connection first"):
        flow.check_can_authorize(unsaved)


def test_authorizing_needs_its_own_permission(
    client: Client, operator: Any, token_endpoint: TokenEndpoint
) -> None:
    connection = oauth_connection(local_client(token_endpoint.url))
    operator.user_permissions.remove(Permission.objects.get(codename="authorize_emailconnection"))
    client.force_login(operator)
    assert client.post(f"/connections/{connection.pk}/authorize/").status_code == 403
    assert client.post(f"/connections/{connection.pk}/disconnect/").status_code == 403
    assert 'id="authorize-button"' not in client.get(connection.get_absolute_url()).content.decode()


def test_the_authorize_page_offers_the_button_and_names_the_account(
    admin_client_logged: Client,
) -> None:
    connection = oauth_connection(local_client("https://id.example.com"))
    response = admin_client_logged.get(f"/connections/{connection.pk}/authorize/")
    page = response.content.decode()
    assert 'id="authorize-button"' in page
    assert ">Authorize</button>" in page
    assert 'id="sign-in-as">mailbox@example.com<' in page
    assert "form-action 'self' https://id.example.com" in response["Content-Security-Policy"]


def test_the_connection_page_shows_authorize_then_reauthorize_and_the_panel(
    admin_client_logged: Client,
) -> None:
    connection = oauth_connection(local_client("https://id.example.com"))
    page = admin_client_logged.get(connection.get_absolute_url()).content.decode()
    assert ">Authorize</button>" in page
    assert 'id="disconnect-button"' not in page
    assert 'id="authorization-panel"' in page
    save_state(
        connection,
        oauth_authorized=True,
        oauth_account="mailbox@example.com",
        oauth_scopes="openid smtp",
        oauth_access_token_enc=crypto.encrypt("secret-access-token"),
        oauth_authorized_at=timezone.now(),
    )
    response = admin_client_logged.get(connection.get_absolute_url())
    page = text(response)
    assert ">Reauthorize</button>" in page
    assert 'id="disconnect-button"' in page
    assert "Not granted: email" in page
    assert "secret-access-token" not in page
    assert "https://id.example.com" in response["Content-Security-Policy"]


def test_reauthorization_needed_shows_in_the_panel_the_list_badge_and_the_status_filter(
    admin_client_logged: Client,
) -> None:
    client = local_client("https://id.example.com")
    broken = oauth_connection(client)
    oauth_connection(client, name="Fine")
    save_state(
        broken,
        oauth_authorized=True,
        oauth_needs_reauth=True,
        oauth_last_error="The provider refused: invalid_grant: Token has been revoked.",
    )
    page = text(admin_client_logged.get(broken.get_absolute_url()))
    assert "Reauthorization needed." in page
    assert "invalid_grant: Token has been revoked." in page
    assert 'id="reauthorize-call"' in page
    listing = admin_client_logged.get("/connections/", {"status": "reauthorize"})
    names = [c.name for c in listing.context["object_list"]]
    assert names == ["Mailbox"]
    assert '<span class="badge text-bg-warning">Reauthorization needed</span>' in (
        listing.content.decode()
    )
    others = admin_client_logged.get("/connections/", {"status": "untested"})
    assert [c.name for c in others.context["object_list"]] == ["Fine"]


def test_the_oauth_client_page_shows_the_absolute_redirect_url_with_a_copy_button(
    admin_client_logged: Client, settings: Any
) -> None:
    page = admin_client_logged.get("/oauth-clients/new/").content.decode()
    assert 'value="http://testserver/oauth/callback/"' in page
    assert 'id="copy-redirect-url"' in page
    settings.PUBLIC_BASE_URL = "https://console.example.com"
    client = local_client("https://id.example.com")
    page = admin_client_logged.get(client.get_absolute_url()).content.decode()
    assert 'value="https://console.example.com/oauth/callback/"' in page


def test_the_oauth_client_form_carries_the_derivation_rules(admin_client_logged: Client) -> None:
    response = admin_client_logged.get("/oauth-clients/new/")
    rules = response.context["field_rules"]
    assert rules["derived"]["microsoft"]["token_endpoint"] == (
        "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token"
    )
    assert rules["default_scopes"]["google"] == "https://mail.google.com/"


def test_a_custom_client_keeps_its_userinfo_and_revocation_endpoints(
    admin_client_logged: Client,
) -> None:
    form = {
        "name": "Own",
        "provider": "custom",
        "client_id": "own",
        "client_secret": "s",
        "scopes": "openid",
        "authorization_endpoint": "https://id.example.com/authorize",
        "token_endpoint": "https://id.example.com/token",
        "userinfo_endpoint": "https://id.example.com/userinfo",
        "revocation_endpoint": "https://id.example.com/revoke",
        "_save": "",
    }
    admin_client_logged.post("/oauth-clients/new/", form)
    client = OAuthClient.objects.get(name="Own")
    assert client.userinfo_endpoint == "https://id.example.com/userinfo"
    assert client.revocation_endpoint == "https://id.example.com/revoke"


def authorized(connection: EmailConnection, expires_in: int = 3600) -> EmailConnection:
    save_state(
        connection,
        oauth_authorized=True,
        oauth_account=connection.user_name,
        oauth_access_token_enc=crypto.encrypt("secret-access-token"),
        oauth_refresh_token_enc=crypto.encrypt("secret-refresh-token"),
        oauth_expires_at=timezone.now() + timedelta(seconds=expires_in),
        oauth_authorized_at=timezone.now(),
    )
    return EmailConnection.objects.select_related("oauth_client").get(pk=connection.pk)


def test_a_test_of_an_unauthorized_connection_fails_at_auth_saying_authorize_first(
    admin_user: Any,
) -> None:
    connection = make_connection(
        authentication=EmailConnection.Auth.OAUTH2,
        oauth_client=local_client("https://id.example.com"),
        smtp_server="192.0.2.1",
        user_name="mailbox@example.com",
    )
    began = time.monotonic()
    report = run_test(connection, admin_user, stored=connection)
    assert time.monotonic() - began < 1
    assert report.failed_stage.name == "auth"
    assert report.failed_stage.hint.startswith("authorize first")
    assert report.stage("connect").status == "skipped"


def test_a_test_that_changes_server_port_user_or_client_never_sends_the_stored_token(
    admin_user: Any,
) -> None:
    client = local_client("https://id.example.com")
    connection = authorized(oauth_connection(client))
    other_client = local_client("https://other.example.com", name="Other")
    for change in (
        {"smtp_server": "192.0.2.1"},
        {"smtp_port": 2526},
        {"user_name": "someone@example.com"},
        {"oauth_client": other_client},
    ):
        edited = EmailConnection.objects.get(pk=connection.pk)
        for name, value in change.items():
            setattr(edited, name, value)
        report = run_test(edited, admin_user, stored=connection)
        assert report.failed_stage.name == "auth", change
        assert "authorize first" in report.failed_stage.hint
        assert "changed" in report.failed_stage.hint


def test_the_test_page_reports_authorize_first_for_an_expired_token_that_cannot_refresh(
    admin_client_logged: Client, silent_endpoint: str, settings: Any
) -> None:
    settings.OAUTH_HTTP_TIMEOUT = 1
    connection = authorized(oauth_connection(local_client(silent_endpoint)), expires_in=-60)
    form = {
        "name": "Mailbox",
        "connection_type": "outgoing",
        "smtp_server": "127.0.0.1",
        "smtp_port": "2525",
        "imap_port": "143",
        "email_address": connection.email_address,
        "authentication": "oauth2",
        "user_name": "mailbox@example.com",
        "oauth_client": str(connection.oauth_client_id),
    }
    response = admin_client_logged.post(f"/connections/{connection.pk}/test/", form)
    page = text(response)
    assert "Test failed at Auth" in page
    assert "authorize first: the expired access token could not be refreshed" in page
    assert "secret-access-token" not in page


def test_tokens_never_reach_the_log_even_at_debug(
    admin_client_logged: Client, token_endpoint: TokenEndpoint, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    connection = oauth_connection(local_client(token_endpoint.url))
    params = start(admin_client_logged, connection)
    token_endpoint.grant("mailbox@example.com")
    admin_client_logged.get(CALLBACK, {"state": params["state"], "code": "the-code"})
    assert stored(connection).oauth_authorized
    logged = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("secret-access-token", "secret-refresh-token", "client-secret-value"):
        assert secret not in logged


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_new_oauth_client_form_fills_in_endpoints_and_scopes_as_provider_and_tenant_change(
    logged_in_page: Any, live_server: Any
) -> None:
    page = logged_in_page
    page.goto(f"{live_server.url}/oauth-clients/new/")
    token = page.locator('#derived-endpoints [data-endpoint="token_endpoint"]')
    assert token.inner_text() == "https://login.microsoftonline.com/common/oauth2/v2.0/token"
    assert page.input_value("#id_scopes").startswith("offline_access ")
    page.fill("#id_tenant_id", "fabrikam.onmicrosoft.com")
    assert "/fabrikam.onmicrosoft.com/oauth2/v2.0/token" in token.inner_text()
    page.select_option("#id_provider", "google")
    assert token.inner_text() == "https://oauth2.googleapis.com/token"
    assert page.input_value("#id_scopes") == "https://mail.google.com/"
    page.select_option("#id_provider", "custom")
    assert not page.locator("#derived-endpoints").is_visible()
    assert page.locator("#id_userinfo_endpoint").is_visible()
    assert page.locator("#id_revocation_endpoint").is_visible()
    assert page.input_value("#redirect-url") == f"{live_server.url}/oauth/callback/"


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_form_warns_before_a_save_that_forgets_the_authorization(
    logged_in_page: Any, live_server: Any
) -> None:
    connection = authorized(oauth_connection(local_client("https://id.example.com")))
    page = logged_in_page
    page.goto(f"{live_server.url}{connection.get_absolute_url()}")
    warning = page.locator("#authorization-binding")
    assert not warning.is_visible()
    page.fill("#id_description", "only a note")
    assert not warning.is_visible()
    page.fill("#id_user_name", "someone@example.com")
    assert warning.is_visible()
    assert "forgets the authorization" in warning.inner_text()
    page.fill("#id_user_name", "mailbox@example.com")
    assert not warning.is_visible()


def test_an_update_that_forgets_the_authorization_says_so(admin_client_logged: Client) -> None:
    connection = authorized(oauth_connection(local_client("https://id.example.com")))
    form = {
        "name": "Mailbox",
        "connection_type": "outgoing",
        "smtp_server": "127.0.0.1",
        "smtp_port": "2525",
        "imap_port": "143",
        "email_address": connection.email_address,
        "authentication": "oauth2",
        "user_name": "someone@example.com",
        "oauth_client": str(connection.oauth_client_id),
        "expected_version": str(connection.version),
    }
    response = admin_client_logged.post(connection.get_absolute_url(), form, follow=True)
    assert "The OAuth authorization was forgotten" in text(response)
    assert nothing_stored(connection)
