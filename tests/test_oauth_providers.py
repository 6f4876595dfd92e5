"""Authorize against Microsoft and Google: the URLs and token requests built for them.

Their endpoints cannot be reached from here, so they are mocked at the HTTP boundary only
(requests' transport adapter): everything above it is the real flow.
"""

import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django import db
from django.utils import timezone

from connections import crypto
from connections.models import EmailConnection
from connections.oauth import flow, tokens
from connections.records import save_state
from tests.factories import make_connection, make_oauth_client

pytestmark = pytest.mark.django_db

CALLBACK = "/oauth/callback/"


class FakeProvider:
    """Answers the requests that reach requests' transport, and keeps them for the test."""

    def __init__(self) -> None:
        self.requests: list[requests.PreparedRequest] = []
        self.answers: dict[str, Callable[[requests.PreparedRequest], tuple[int, Any]]] = {}

    def answer(self, url: str, status: int = 200, body: Any = None) -> None:
        self.answers[url] = lambda request: (status, body)

    def send(self, adapter: Any, request: requests.PreparedRequest, **kwargs: Any) -> Any:
        self.requests.append(request)
        url = request.url.split("?")[0]
        if url not in self.answers:
            raise requests.ConnectionError(f"no route to {url}")
        status, body = self.answers[url](request)
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode() if body is not None else b""
        response.headers["Content-Type"] = "application/json"
        response.url = request.url
        response.request = request
        return response

    def form(self, index: int = -1) -> dict[str, str]:
        body = self.requests[index].body or ""
        body = body.decode() if isinstance(body, bytes) else body
        return {k: v[0] for k, v in parse_qs(body).items()}


@pytest.fixture
def provider(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProvider]:
    fake = FakeProvider()
    monkeypatch.setattr(
        requests.adapters.HTTPAdapter,
        "send",
        lambda adapter, request, **kwargs: fake.send(adapter, request, **kwargs),
    )
    yield fake


def id_token(**claims: Any) -> str:
    def part(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'RS256'})}.{part(claims)}.c2lnbmF0dXJl"


def microsoft_client(**values: Any) -> Any:
    return make_oauth_client(
        name="Contoso", provider="microsoft", tenant_id="contoso.onmicrosoft.com", **values
    )


def google_client(**values: Any) -> Any:
    return make_oauth_client(name="Google", provider="google", client_id="g-app", **values)


def oauth_connection(client: Any, user_name: str = "mailbox@contoso.com", **values: Any) -> Any:
    return make_connection(
        name=values.pop("name", "Mailbox"),
        authentication=EmailConnection.Auth.OAUTH2,
        oauth_client=client,
        user_name=user_name,
        smtp_server="smtp.office365.com",
        smtp_port=587,
        enable_starttls=True,
        **values,
    )


def start(web: Any, connection: Any) -> dict[str, str]:
    """Click Authorize; the provider URL's query parameters (and the URL as "url")."""
    response = web.post(f"/connections/{connection.pk}/authorize/")
    assert response.status_code == 302
    url = response["Location"]
    params = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    return {**params, "url": url}


def test_microsoft_authorization_uses_the_tenant_v2_endpoint_with_pkce_and_login_hint(
    admin_client_logged: Any,
) -> None:
    connection = oauth_connection(microsoft_client())
    params = start(admin_client_logged, connection)
    assert params["url"].startswith(
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize?"
    )
    assert params["client_id"] == "app-id"
    assert params["response_type"] == "code"
    assert params["redirect_uri"] == "http://testserver/oauth/callback/"
    assert params["login_hint"] == "mailbox@contoso.com"
    assert params["prompt"] == "select_account"
    scopes = params["scope"].split()
    assert scopes[0] == "offline_access"
    assert {"openid", "https://outlook.office.com/SMTP.Send"} <= set(scopes)
    assert "access_type" not in params
    state, nonce = params["state"], params["state"].split(".", 1)[1]
    assert state.startswith(f"{connection.pk}.")
    pending = admin_client_logged.session[flow.SESSION_KEY][nonce]
    digest = hashlib.sha256(pending["verifier"].encode()).digest()
    assert params["code_challenge_method"] == "S256"
    assert params["code_challenge"] == base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert 43 <= len(pending["verifier"]) <= 128


def test_microsoft_reauthorize_asks_for_consent(admin_client_logged: Any) -> None:
    connection = oauth_connection(microsoft_client())
    save_state(connection, oauth_authorized=True)
    assert start(admin_client_logged, connection)["prompt"] == "consent"


def test_the_redirect_url_comes_from_public_base_url_when_set(
    admin_client_logged: Any, settings: Any
) -> None:
    settings.PUBLIC_BASE_URL = "https://console.example.com"
    connection = oauth_connection(microsoft_client())
    params = start(admin_client_logged, connection)
    assert params["redirect_uri"] == "https://console.example.com/oauth/callback/"


def test_google_asks_for_offline_access_and_consent(admin_client_logged: Any) -> None:
    connection = oauth_connection(google_client(), user_name="robot@example.com")
    params = start(admin_client_logged, connection)
    assert params["url"].startswith("https://accounts.google.com/o/oauth2/v2/auth?")
    assert params["access_type"] == "offline"
    assert params["prompt"] == "consent"
    assert params["login_hint"] == "robot@example.com"
    assert params["client_id"] == "g-app"
    assert set(params["scope"].split()) == {"openid", "email", "https://mail.google.com/"}


def test_a_custom_provider_gets_its_own_endpoint_and_exactly_its_scopes(
    admin_client_logged: Any,
) -> None:
    client = make_oauth_client(
        name="Own",
        provider="custom",
        authorization_endpoint="https://id.example.com/authorize",
        token_endpoint="https://id.example.com/token",
        scopes="openid email smtp",
    )
    params = start(admin_client_logged, oauth_connection(client))
    assert params["url"].startswith("https://id.example.com/authorize?")
    assert params["scope"] == "openid email smtp"
    assert "prompt" not in params


def callback(web: Any, params: dict[str, str], **extra: str) -> Any:
    return web.get(CALLBACK, {"state": params["state"], **extra})


def test_the_code_is_exchanged_with_the_pkce_verifier_and_the_tokens_stored_encrypted(
    admin_client_logged: Any, provider: FakeProvider
) -> None:
    connection = oauth_connection(microsoft_client())
    params = start(admin_client_logged, connection)
    token_url = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    provider.answer(
        token_url,
        body={
            "token_type": "Bearer",
            "access_token": "AT-1",
            "refresh_token": "RT-1",
            "expires_in": 3600,
            # Microsoft never lists offline_access among the granted scopes.
            "scope": "https://outlook.office.com/SMTP.Send "
            "https://outlook.office.com/IMAP.AccessAsUser.All openid profile email",
            "id_token": id_token(
                aud="app-id", exp=time.time() + 600, preferred_username="MailBox@Contoso.com"
            ),
        },
    )
    response = callback(admin_client_logged, params, code="the-code")
    assert response.status_code == 302
    assert response["Location"] == connection.get_absolute_url()
    sent = provider.form()
    nonce = params["state"].split(".", 1)[1]
    assert sent["grant_type"] == "authorization_code"
    assert sent["code"] == "the-code"
    assert sent["redirect_uri"] == "http://testserver/oauth/callback/"
    assert sent["client_id"] == "app-id"
    assert sent["client_secret"] == "client-secret-value"
    challenge = params["code_challenge"]
    digest = hashlib.sha256(sent["code_verifier"].encode()).digest()
    assert base64.urlsafe_b64encode(digest).decode().rstrip("=") == challenge
    assert nonce not in admin_client_logged.session[flow.SESSION_KEY]
    stored = EmailConnection.objects.get(pk=connection.pk)
    assert stored.oauth_authorized
    assert stored.oauth_account == "mailbox@contoso.com"
    assert stored.oauth_access_token_enc != "AT-1"
    assert crypto.decrypt(stored.oauth_access_token_enc) == "AT-1"
    assert crypto.decrypt(stored.oauth_refresh_token_enc) == "RT-1"
    assert stored.oauth_authorized_at is not None
    assert stored.oauth_expires_at > timezone.now() + timedelta(minutes=55)
    assert stored.missing_scopes() == []


def test_google_adding_openid_to_the_granted_scopes_is_no_error(
    admin_client_logged: Any, provider: FakeProvider
) -> None:
    connection = oauth_connection(google_client(), user_name="robot@example.com")
    params = start(admin_client_logged, connection)
    provider.answer(
        "https://oauth2.googleapis.com/token",
        body={
            "access_token": "g-at",
            "refresh_token": "g-rt",
            "expires_in": 3599,
            "scope": "openid https://mail.google.com/ https://www.googleapis.com/auth/userinfo.email",
            "id_token": id_token(aud="g-app", exp=time.time() + 600, email="robot@example.com"),
        },
    )
    response = callback(admin_client_logged, params, code="c")
    assert response.status_code == 302
    stored = EmailConnection.objects.get(pk=connection.pk)
    assert stored.oauth_authorized
    assert stored.missing_scopes() == []


def test_a_token_response_without_refresh_token_stores_the_access_token_and_warns(
    admin_client_logged: Any, provider: FakeProvider
) -> None:
    connection = oauth_connection(google_client(), user_name="robot@example.com")
    params = start(admin_client_logged, connection)
    provider.answer(
        "https://oauth2.googleapis.com/token",
        body={
            "access_token": "g-at",
            "expires_in": 3599,
            "scope": "openid",
            "id_token": id_token(aud="g-app", exp=time.time() + 600, email="robot@example.com"),
        },
    )
    page = admin_client_logged.get(
        CALLBACK, {"state": params["state"], "code": "c"}, follow=True
    ).content.decode()
    stored = EmailConnection.objects.get(pk=connection.pk)
    assert stored.oauth_authorized
    assert crypto.decrypt(stored.oauth_access_token_enc) == "g-at"
    assert not stored.has_refresh_token
    assert "sent no refresh token" in page
    assert "Not granted by the provider: https://mail.google.com/" in page
    assert "g-at" not in page


def test_google_without_an_email_in_the_id_token_asks_the_userinfo_endpoint(
    admin_client_logged: Any, provider: FakeProvider
) -> None:
    connection = oauth_connection(google_client(), user_name="robot@example.com")
    params = start(admin_client_logged, connection)
    provider.answer(
        "https://oauth2.googleapis.com/token",
        body={"access_token": "g-at", "refresh_token": "g-rt", "expires_in": 3599},
    )
    provider.answer(
        "https://openidconnect.googleapis.com/v1/userinfo", body={"email": "robot@example.com"}
    )
    callback(admin_client_logged, params, code="c")
    assert provider.requests[-1].headers["Authorization"] == "Bearer g-at"
    assert EmailConnection.objects.get(pk=connection.pk).oauth_authorized


def authorized(connection: Any, **values: Any) -> Any:
    state = {
        "oauth_authorized": True,
        "oauth_account": connection.user_name,
        "oauth_access_token_enc": crypto.encrypt("old-access"),
        "oauth_refresh_token_enc": crypto.encrypt("old-refresh"),
        "oauth_expires_at": timezone.now() - timedelta(minutes=1),
        "oauth_authorized_at": timezone.now() - timedelta(hours=2),
    }
    state.update(values)
    save_state(connection, **state)
    return EmailConnection.objects.select_related("oauth_client").get(pk=connection.pk)


def test_a_microsoft_refresh_sends_the_scopes_and_stores_the_rotated_refresh_token(
    provider: FakeProvider,
) -> None:
    connection = authorized(oauth_connection(microsoft_client()))
    provider.answer(
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
        body={
            "access_token": "new-access",
            "refresh_token": "new-refresh",
            "expires_in": 3600,
            "scope": "https://outlook.office.com/SMTP.Send",
        },
    )
    assert tokens.refresh(connection) is True
    sent = provider.form()
    assert sent["grant_type"] == "refresh_token"
    assert sent["refresh_token"] == "old-refresh"
    assert sent["client_id"] == "app-id"
    assert "offline_access" in sent["scope"].split()
    stored = EmailConnection.objects.get(pk=connection.pk)
    assert stored.get_secret("oauth_access_token") == "new-access"
    assert stored.get_secret("oauth_refresh_token") == "new-refresh"
    assert stored.oauth_refreshed_at is not None
    assert stored.oauth_expires_at > timezone.now() + timedelta(minutes=55)


def test_a_refresh_that_keeps_the_refresh_token_keeps_the_stored_one(
    provider: FakeProvider,
) -> None:
    connection = authorized(oauth_connection(google_client(), user_name="robot@example.com"))
    provider.answer(
        "https://oauth2.googleapis.com/token", body={"access_token": "g-new", "expires_in": 3599}
    )
    assert tokens.refresh(connection) is True
    assert "scope" not in provider.form()
    stored = EmailConnection.objects.get(pk=connection.pk)
    assert stored.get_secret("oauth_access_token") == "g-new"
    assert stored.get_secret("oauth_refresh_token") == "old-refresh"


def test_invalid_grant_marks_the_connection_reauthorization_needed_with_the_providers_text(
    provider: FakeProvider,
) -> None:
    connection = authorized(oauth_connection(microsoft_client()))
    provider.answer(
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
        status=400,
        body={
            "error": "invalid_grant",
            "error_description": "AADSTS50173: The provided grant has expired.",
        },
    )
    assert tokens.refresh(connection) is False
    stored = EmailConnection.objects.get(pk=connection.pk)
    assert stored.oauth_needs_reauth
    assert stored.status == EmailConnection.Status.REAUTHORIZE
    assert "AADSTS50173: The provided grant has expired." in stored.oauth_last_error
    with pytest.raises(tokens.AuthorizationNeeded, match="authorize first"):
        tokens.access_token(stored)


def test_an_unreachable_provider_keeps_the_authorization_and_records_the_error(
    provider: FakeProvider,
) -> None:
    connection = authorized(oauth_connection(microsoft_client()))
    assert tokens.refresh(connection) is False
    stored = EmailConnection.objects.get(pk=connection.pk)
    assert not stored.oauth_needs_reauth
    assert "could not be reached" in stored.oauth_last_error


def test_a_token_refreshed_meanwhile_is_not_refreshed_again(provider: FakeProvider) -> None:
    connection = authorized(oauth_connection(google_client(), user_name="robot@example.com"))
    provider.answer(
        "https://oauth2.googleapis.com/token", body={"access_token": "g-new", "expires_in": 3599}
    )
    first, second = EmailConnection.objects.get(pk=connection.pk), connection
    assert tokens.refresh(first) is True
    # A second worker that read the connection before the first refreshed it.
    assert tokens.refresh(second) is False
    assert len(provider.requests) == 1
    assert second.get_secret("oauth_access_token") == "g-new"


def test_refresh_due_refreshes_expiring_and_old_tokens_only(
    provider: FakeProvider, settings: Any
) -> None:
    settings.OAUTH_REFRESH_BEFORE_SECONDS = 600
    settings.OAUTH_REFRESH_MAX_AGE_DAYS = 7
    client = google_client()
    now = timezone.now()
    expiring = authorized(
        oauth_connection(client, name="Expiring"), oauth_expires_at=now + timedelta(minutes=5)
    )
    old = authorized(
        oauth_connection(client, name="Old"),
        oauth_expires_at=now + timedelta(minutes=50),
        oauth_refreshed_at=now - timedelta(days=8),
    )
    fresh = authorized(
        oauth_connection(client, name="Fresh"),
        oauth_expires_at=now + timedelta(minutes=50),
        oauth_refreshed_at=now - timedelta(days=1),
    )
    broken = authorized(
        oauth_connection(client, name="Broken"),
        oauth_expires_at=now + timedelta(minutes=5),
        oauth_needs_reauth=True,
    )
    provider.answer(
        "https://oauth2.googleapis.com/token", body={"access_token": "g-new", "expires_in": 3599}
    )
    assert tokens.refresh_due() == 2
    assert len(provider.requests) == 2
    tokens_now = {
        c.name: c.get_secret("oauth_access_token")
        for c in EmailConnection.objects.filter(pk__in=[expiring.pk, old.pk, fresh.pk, broken.pk])
    }
    assert tokens_now == {
        "Expiring": "g-new",
        "Old": "g-new",
        "Fresh": "old-access",
        "Broken": "old-access",
    }


def test_an_expired_token_is_refreshed_on_use(provider: FakeProvider) -> None:
    connection = authorized(oauth_connection(google_client(), user_name="robot@example.com"))
    provider.answer(
        "https://oauth2.googleapis.com/token", body={"access_token": "g-new", "expires_in": 3599}
    )
    assert tokens.access_token(connection) == "g-new"
    assert tokens.access_token(connection) == "g-new"
    assert len(provider.requests) == 1


def test_disconnect_revokes_at_google_and_forgets_the_tokens(
    admin_client_logged: Any, provider: FakeProvider
) -> None:
    connection = authorized(oauth_connection(google_client(), user_name="robot@example.com"))
    provider.answer("https://oauth2.googleapis.com/revoke", body={})
    response = admin_client_logged.post(f"/connections/{connection.pk}/disconnect/", follow=True)
    assert "disconnected: tokens forgotten" in response.content.decode()
    assert [provider.form(i)["token"] for i in range(2)] == ["old-refresh", "old-access"]
    assert provider.form(0)["token_type_hint"] == "refresh_token"
    stored = EmailConnection.objects.get(pk=connection.pk)
    assert not stored.oauth_authorized
    assert stored.oauth_access_token_enc == stored.oauth_refresh_token_enc == ""
    assert stored.oauth_account == ""


def test_disconnect_forgets_the_tokens_even_when_revocation_fails(
    admin_client_logged: Any, provider: FakeProvider
) -> None:
    connection = authorized(oauth_connection(google_client(), user_name="robot@example.com"))
    provider.answer("https://oauth2.googleapis.com/revoke", status=503, body={})
    page = admin_client_logged.post(
        f"/connections/{connection.pk}/disconnect/", follow=True
    ).content.decode()
    assert "the provider did not revoke them" in page
    assert not EmailConnection.objects.get(pk=connection.pk).oauth_authorized


def test_disconnect_at_microsoft_calls_no_revocation_endpoint(
    admin_client_logged: Any, provider: FakeProvider
) -> None:
    connection = authorized(oauth_connection(microsoft_client()))
    admin_client_logged.post(f"/connections/{connection.pk}/disconnect/")
    assert provider.requests == []
    assert not EmailConnection.objects.get(pk=connection.pk).oauth_authorized


@pytest.mark.django_db(transaction=True)
def test_a_refresh_waits_for_another_workers_lease_and_does_not_repeat_it(
    provider: FakeProvider,
) -> None:
    connection = authorized(oauth_connection(google_client(), user_name="robot@example.com"))
    assert tokens.claim(connection.pk)  # another worker is refreshing it

    def other_worker_finishes() -> None:
        time.sleep(0.5)
        EmailConnection.objects.filter(pk=connection.pk).update(
            oauth_access_token_enc=crypto.encrypt("theirs"),
            oauth_expires_at=timezone.now() + timedelta(hours=1),
            oauth_refreshed_at=timezone.now(),
            oauth_refresh_lease=None,
        )
        db.connection.close()

    worker = threading.Thread(target=other_worker_finishes)
    worker.start()
    assert tokens.refresh(connection, force=True) is True
    worker.join()
    assert provider.requests == []
    assert connection.get_secret("oauth_access_token") == "theirs"


def test_the_lease_of_a_worker_that_died_runs_out(provider: FakeProvider) -> None:
    connection = authorized(
        oauth_connection(google_client(), user_name="robot@example.com"),
        oauth_refresh_lease=timezone.now() - timedelta(seconds=1),
    )
    provider.answer(
        "https://oauth2.googleapis.com/token", body={"access_token": "g-new", "expires_in": 3599}
    )
    assert tokens.refresh(connection, force=True) is True
    stored = EmailConnection.objects.get(pk=connection.pk)
    assert stored.get_secret("oauth_access_token") == "g-new"
    assert stored.oauth_refresh_lease is None


def test_a_refresh_answered_after_the_tokens_were_forgotten_stores_nothing(
    provider: FakeProvider,
) -> None:
    connection = authorized(oauth_connection(google_client(), user_name="robot@example.com"))

    def answer(request: requests.PreparedRequest) -> tuple[int, Any]:
        tokens.forget(EmailConnection.objects.get(pk=connection.pk))  # e.g. a Disconnect
        return 200, {"access_token": "late", "refresh_token": "late-rt", "expires_in": 3599}

    provider.answers["https://oauth2.googleapis.com/token"] = answer
    assert tokens.refresh(connection, force=True) is False
    stored = EmailConnection.objects.get(pk=connection.pk)
    assert not stored.oauth_authorized
    assert stored.oauth_access_token_enc == stored.oauth_refresh_token_enc == ""


def test_an_expired_token_without_refresh_token_is_marked_for_reauthorization(
    provider: FakeProvider,
) -> None:
    connection = authorized(
        oauth_connection(google_client(), user_name="robot@example.com"),
        oauth_refresh_token_enc="",
        oauth_expires_at=timezone.now() - timedelta(minutes=1),
    )
    assert tokens.refresh_due() == 0
    stored = EmailConnection.objects.get(pk=connection.pk)
    assert stored.status == EmailConnection.Status.REAUTHORIZE
    assert "no refresh token" in stored.oauth_last_error
    assert provider.requests == []
