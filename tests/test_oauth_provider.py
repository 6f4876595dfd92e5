"""This app's own OAuth server as an OpenID Connect provider: the stand-in for Microsoft and
Google. The authorization code flow with PKCE is driven by hand (tests/oauth_provider.py)."""

import io
import json
import stat

import pytest
import requests
from django.conf import settings
from django.core.management import call_command
from jwcrypto import jwk, jwt
from oauth2_provider.models import Application
from oauth2_provider.settings import oauth2_settings

from connections.models import EmailConnection, OAuthClient
from tests.oauth_provider import (
    MAILBOX_USER,
    Provider,
    authorize_in_console,
    log_in,
    loopback_url,
    run_flow,
)

pytestmark = pytest.mark.django_db(transaction=True)


def id_token_claims(provider: Provider, id_token: str) -> dict:
    keys = jwk.JWKSet.from_json(requests.get(provider.url(".well-known/jwks.json"), timeout=5).text)
    token = jwt.JWT(
        jwt=id_token,
        key=keys,
        algs=["RS256"],
        check_claims={"aud": provider.client_id, "iss": provider.url("")[:-1], "exp": None},
    )
    return json.loads(token.claims)


def test_the_id_token_is_signed_and_carries_the_users_email(provider: Provider) -> None:
    token = run_flow(provider, scope="openid email")
    claims = id_token_claims(provider, token["id_token"])
    assert claims["email"] == MAILBOX_USER
    assert claims["email_verified"] is True


def test_userinfo_gives_the_email_to_the_access_token(provider: Provider) -> None:
    token = run_flow(provider, scope="openid email")
    response = requests.get(
        provider.userinfo_url,
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=5,
    )
    assert response.status_code == 200
    assert response.json()["email"] == MAILBOX_USER


def test_without_the_email_scope_no_email_is_given(provider: Provider) -> None:
    token = run_flow(provider, scope="openid")
    assert "email" not in id_token_claims(provider, token["id_token"])


def test_the_profile_scope_gives_the_username(provider: Provider) -> None:
    token = run_flow(provider, scope="openid profile")
    assert id_token_claims(provider, token["id_token"])["preferred_username"] == MAILBOX_USER


def test_discovery_names_userinfo_and_the_email_claim(provider: Provider) -> None:
    document = requests.get(provider.url(".well-known/openid-configuration"), timeout=5).json()
    assert document["userinfo_endpoint"] == provider.userinfo_url
    assert "email" in document["claims_supported"]
    assert {"openid", "email", "profile"} <= set(document["scopes_supported"])


def test_the_signing_key_is_generated_once_into_var() -> None:
    path = settings.VAR_DIR / "oidc.key"
    assert path.read_text().strip() == oauth2_settings.OIDC_RSA_PRIVATE_KEY
    assert "BEGIN PRIVATE KEY" in oauth2_settings.OIDC_RSA_PRIVATE_KEY
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_mail_server_can_introspect_a_token_of_the_flow(
    provider: Provider, introspection_client: object
) -> None:
    token = run_flow(provider)
    info = provider.introspect(token["access_token"])
    assert info["active"] is True
    assert info["username"] == MAILBOX_USER


def test_the_demo_data_local_provider_authorizes_the_local_mailbox(
    live_server: object, monkeypatch: pytest.MonkeyPatch, settings: object
) -> None:
    settings.PUBLIC_BASE_URL = ""
    base = loopback_url(live_server)
    monkeypatch.setenv("PORT", base.rsplit(":", 1)[1])
    call_command("demo_data", password="demo-pass-1", stdout=io.StringIO())
    call_command("demo_data", password="demo-pass-1", stdout=io.StringIO())  # idempotent
    client = OAuthClient.objects.get(name="Local test provider")
    assert client.token_endpoint == f"{base}/o/token/"
    [app] = Application.objects.filter(client_id=client.client_id)
    assert app.redirect_uris == f"{base}/oauth/callback/"
    assert app.client_type == Application.CLIENT_CONFIDENTIAL
    assert app.algorithm == Application.RS256_ALGORITHM
    connection = EmailConnection.objects.get(name="Local mailbox (OAuth)")
    assert connection.user_name == "admin@example.com"

    session = requests.Session()
    log_in(session, base, "admin", "demo-pass-1")
    landed = authorize_in_console(Provider(base, client.client_id, ""), connection, session)
    assert "authorized as admin@example.com" in landed.text
    connection.refresh_from_db()
    assert connection.oauth_authorized
    assert connection.oauth_account == "admin@example.com"


def test_the_demo_data_local_provider_follows_the_port_it_is_served_on(
    monkeypatch: pytest.MonkeyPatch, settings: object
) -> None:
    settings.PUBLIC_BASE_URL = ""
    monkeypatch.setenv("PORT", "8000")
    call_command("demo_data", password="demo-pass-1", stdout=io.StringIO())
    monkeypatch.setenv("PORT", "9000")
    call_command("demo_data", password="demo-pass-1", stdout=io.StringIO())
    client = OAuthClient.objects.get(name="Local test provider")
    assert client.authorization_endpoint == "http://127.0.0.1:9000/o/authorize/"
    app = Application.objects.get(client_id=client.client_id)
    assert app.redirect_uris == "http://127.0.0.1:9000/oauth/callback/"
