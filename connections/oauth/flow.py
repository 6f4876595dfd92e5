"""Authorize, the callback and Disconnect: the one implementation the pages and the API use.

Authorize is the authorization code flow with PKCE (S256). Its `state` is
"<connection id>.<random>", and the random part is remembered in the operator's session
with the PKCE verifier, the connection and what the connection logs in to: a state is
honoured once, for 10 minutes, in that session, for that connection as it was.
"""

import base64
import binascii
import json
import logging
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse
from oauthlib.oauth2 import WebApplicationClient

from connections import crypto
from connections.models import EmailConnection, OAuthClient
from connections.oauth import http, providers, tokens
from connections.records import save_state

log = logging.getLogger(__name__)

SESSION_KEY = "oauth_pending"
STATE_MAX_AGE = 600
MAX_PENDING = 10
IDENTITY_CLAIMS = ("email", "preferred_username", "upn")


class AuthorizeError(Exception):
    """Authorize or its callback refused; the message is for the operator (no secrets).

    `connection` is set when the refusal belongs to a known connection.
    """

    def __init__(self, message: str, connection: EmailConnection | None = None) -> None:
        super().__init__(message)
        self.connection = connection


def redirect_url(request: HttpRequest | None = None) -> str:
    """The one Redirect URL of this deployment, to register at every provider."""
    path = reverse("connections:oauth-callback")
    if settings.PUBLIC_BASE_URL:
        return settings.PUBLIC_BASE_URL + path
    if request is None:
        return path
    return request.build_absolute_uri(path)


def check_can_authorize(connection: EmailConnection) -> OAuthClient:
    if connection.pk is None:
        raise AuthorizeError("Save the connection first: only a saved connection is authorized.")
    if not connection.uses_oauth:
        raise AuthorizeError(
            f'"{connection}" does not use OAuth 2.0: set Authentication to OAuth 2.0 and save '
            "before authorizing.",
            connection,
        )
    client = connection.oauth_client
    if client is None:
        raise AuthorizeError(
            f'"{connection}" has no OAuth Client: choose one and save.', connection
        )
    if not client.client_id.strip():
        raise AuthorizeError(
            f'OAuth Client "{client}" has no Client ID: enter the one the provider issued.',
            connection,
        )
    if not connection.user_name.strip():
        raise AuthorizeError(f'"{connection}" has no User Name to authorize.', connection)
    return client


def provider_origin(connection: EmailConnection) -> str:
    """scheme://host[:port] of the authorization endpoint ("" when there is none)."""
    if not connection.uses_oauth or connection.oauth_client is None:
        return ""
    parts = urlsplit(providers.endpoints(connection.oauth_client)["authorization_endpoint"])
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return ""
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def binding(connection: EmailConnection) -> list[Any]:
    """What a token is authorized for; a change in between voids a pending authorization."""
    client = connection.oauth_client
    return [
        connection.connection_type,
        (connection.server or "").strip().lower(),
        int(connection.port or 0),
        connection.user_name.strip().lower(),
        connection.oauth_client_id,
        client.client_id if client else "",
    ]


def start(request: HttpRequest, connection: EmailConnection, reauthorize: bool) -> str:
    """Remember a new state and PKCE verifier in the session; the provider's URL to visit."""
    client = check_can_authorize(connection)
    urls = providers.endpoints(client)
    try:
        http.check_transport(urls["authorization_endpoint"])
        http.check_transport(urls["token_endpoint"])
    except http.ProviderError as exc:
        raise AuthorizeError(str(exc), connection) from None
    verifier = secrets.token_urlsafe(64)
    challenge = WebApplicationClient(client.client_id).create_code_challenge(verifier, "S256")
    nonce = secrets.token_urlsafe(24)
    state = f"{connection.pk}.{nonce}"
    redirect_uri = redirect_url(request)
    oauth = http.session(
        client.client_id, [], redirect_uri=redirect_uri, scope=providers.requested_scopes(client)
    )
    url, _ = oauth.authorization_url(
        http.for_oauthlib(urls["authorization_endpoint"]),
        state=state,
        code_challenge=challenge,
        code_challenge_method="S256",
        **providers.authorization_params(client, connection, reauthorize),
    )
    now = time.time()
    pending = {
        key: entry
        for key, entry in request.session.get(SESSION_KEY, {}).items()
        if now - entry["at"] < STATE_MAX_AGE
    }
    pending[nonce] = {
        "connection": connection.pk,
        "verifier": verifier,
        "at": now,
        "binding": binding(connection),
        "redirect_uri": redirect_uri,
    }
    request.session[SESSION_KEY] = dict(list(pending.items())[-MAX_PENDING:])
    return http.for_browser(url, urls["authorization_endpoint"])


def take_pending(request: HttpRequest) -> tuple[dict[str, Any], str]:
    """The session's entry for the callback's state, removed (single use) whatever follows."""
    state = request.GET.get("state", "")
    pk_text, _, nonce = state.partition(".")
    pending = dict(request.session.get(SESSION_KEY, {}))
    entry = pending.pop(nonce, None) if nonce else None
    request.session[SESSION_KEY] = pending
    if not state:
        raise AuthorizeError(
            "The provider's answer has no state: it does not come from an Authorize started "
            "here. Start again with Authorize on the connection."
        )
    if entry is None:
        raise AuthorizeError(
            "This authorization answer is unknown here: it was already used, started in "
            "another browser session, or forged. Start again with Authorize on the connection."
        )
    return entry, pk_text


def finish(request: HttpRequest) -> EmailConnection:
    """The callback: check state, exchange the code (PKCE), check the account, store tokens."""
    entry, pk_text = take_pending(request)
    visible = EmailConnection.objects.visible_to(request.user).select_related("oauth_client")
    connection = visible.filter(pk=entry["connection"]).first()
    if connection is None:
        raise AuthorizeError("The connection being authorized no longer exists.")
    if pk_text != str(connection.pk):
        raise AuthorizeError(
            "This authorization answer was started for another connection: nothing was "
            "stored. Start again with Authorize on the connection.",
            connection,
        )
    if time.time() - entry["at"] > STATE_MAX_AGE:
        raise AuthorizeError(
            "This authorization took longer than 10 minutes and has expired: click "
            "Authorize again.",
            connection,
        )
    error = request.GET.get("error", "")
    description = request.GET.get("error_description", "")
    if error or description:
        message = f"The provider refused the authorization: {error or 'error'}"
        message += f": {description}" if description else "."
        save_state(connection, oauth_last_error=message[:2000])
        raise AuthorizeError(message, connection)
    client = check_can_authorize(connection)
    if binding(connection) != entry["binding"]:
        raise AuthorizeError(
            "The connection's server, port, User Name or OAuth Client changed while it was "
            "being authorized: nothing was stored. Click Authorize again.",
            connection,
        )
    code = request.GET.get("code", "")
    if not code:
        raise AuthorizeError("The provider's answer has no authorization code.", connection)
    urls = providers.endpoints(client)
    try:
        token = http.exchange_code(
            client.client_id,
            client.get_secret("client_secret"),
            urls["token_endpoint"],
            code,
            entry["verifier"],
            entry["redirect_uri"],
        )
        if not token.get("access_token"):
            raise http.ProviderError("The token endpoint answered without an access token.")
        accounts = authorized_accounts(client, urls, token)
    except http.ProviderError as exc:
        save_state(connection, oauth_last_error=str(exc)[:2000])
        raise AuthorizeError(str(exc), connection) from None
    expected = connection.user_name.strip()
    if expected.lower() not in {name.lower() for name in accounts}:
        raise AuthorizeError(
            f"You signed in as {accounts[0]}, but this connection logs in as {expected}: sign "
            f"in as {expected} (a private browser window avoids being signed in automatically).",
            connection,
        )
    tokens.store(connection, token, expected)
    return connection


def id_token_claims(id_token: str, client_id: str) -> dict[str, Any]:
    """The claims of an ID token received straight from the token endpoint.

    It came over the back channel from the endpoint we called, so (OpenID Connect Core
    3.1.3.7) its signature need not be checked; its audience and expiry still are.
    """
    try:
        payload = id_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError, binascii.Error):
        raise http.ProviderError("The provider sent an ID token that cannot be read.") from None
    if not isinstance(claims, dict):
        raise http.ProviderError("The provider sent an ID token that cannot be read.")
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if client_id not in audiences:
        raise http.ProviderError("The ID token was issued to another client (aud): refused.")
    if not isinstance(claims.get("exp"), int | float) or claims["exp"] < time.time() - 60:
        raise http.ProviderError("The ID token has expired: refused.")
    return claims


def authorized_accounts(
    client: OAuthClient, urls: dict[str, str], token: dict[str, Any]
) -> list[str]:
    """The names of the account that signed in (Microsoft's email and UPN may differ): from
    the ID token, else from the userinfo endpoint."""
    claims: dict[str, Any] = {}
    if token.get("id_token"):
        claims = id_token_claims(token["id_token"], client.client_id)
    names = [str(claims[c]) for c in IDENTITY_CLAIMS if claims.get(c)]
    if not names and urls.get("userinfo_endpoint"):
        info = http.userinfo(urls["userinfo_endpoint"], token["access_token"])
        names = [str(info[c]) for c in IDENTITY_CLAIMS if info.get(c)]
    if not names:
        raise http.ProviderError(
            "The provider did not say which account signed in: request the openid and email "
            "scopes, or set the OAuth Client's Userinfo Endpoint."
        )
    return names


def disconnect(connection: EmailConnection, user: Any) -> str:
    """Forget the tokens, then revoke them at the provider when it has a revocation endpoint.

    Returns a warning for the operator ("" when none). The tokens are forgotten first, so a
    slow or failing provider never keeps them stored here.
    """
    stored = []
    for name, hint in (("oauth_refresh_token", "refresh_token"), ("oauth_access_token", "")):
        try:
            value = connection.get_secret(name)
        except crypto.SecretUnreadable:
            value = ""
        if value:
            stored.append((value, hint or "access_token"))
    tokens.forget(connection)
    log.info("connection %s disconnected by %s", connection.pk, getattr(user, "username", "?"))
    client = connection.oauth_client
    url = providers.endpoints(client).get("revocation_endpoint", "") if client else ""
    if not url or not stored:
        return ""
    try:
        for value, hint in stored:
            http.revoke(url, client.client_id, client.get_secret("client_secret"), value, hint)
    except http.ProviderError as exc:
        return f"The tokens were forgotten here, but the provider did not revoke them: {exc}"
    return ""
