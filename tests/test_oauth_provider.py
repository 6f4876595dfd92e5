"""This app's own OAuth server as an OpenID Connect provider: the stand-in for Microsoft and
Google. The authorization code flow with PKCE is driven by hand (tests/oauth_provider.py)."""

import json
import stat

import pytest
import requests
from django.conf import settings
from jwcrypto import jwk, jwt
from oauth2_provider.settings import oauth2_settings

from tests.oauth_provider import MAILBOX_USER, Provider, run_flow

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
    assert oauth2_settings.OIDC_RSA_PRIVATE_KEY == path.read_text().strip()
    assert "BEGIN PRIVATE KEY" in oauth2_settings.OIDC_RSA_PRIVATE_KEY
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_mail_server_can_introspect_a_token_of_the_flow(
    provider: Provider, introspection_client: object
) -> None:
    token = run_flow(provider)
    info = provider.introspect(token["access_token"])
    assert info["active"] is True
    assert info["username"] == MAILBOX_USER
