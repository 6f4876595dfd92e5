"""What each provider needs in the authorization request, and where its endpoints are.

Microsoft (Entra ID v2, per tenant): `offline_access` for a refresh token, `openid profile
email` for an ID token naming the account; `prompt=select_account` the first time so that
an SSO session does not pick the operator's own account, `prompt=consent` on Reauthorize.
Google: a refresh token comes back only with `access_type=offline` and `prompt=consent`.
Custom providers: their own endpoints and exactly the OAuth Client's scopes.
"""

from connections.models import EmailConnection, OAuthClient

Provider = OAuthClient.Provider

# Added to the OAuth Client's scopes: what the identity check and the refresh token need.
IDENTITY_SCOPES = {
    Provider.MICROSOFT: ("offline_access", "openid", "profile", "email"),
    Provider.GOOGLE: ("openid", "email"),
    Provider.CUSTOM: (),
}


def endpoints(client: OAuthClient) -> dict[str, str]:
    """authorization/token/userinfo/revocation endpoint URLs ("" when there is none)."""
    derived = client.derived_endpoints()
    if derived is not None:
        return derived
    return {name: getattr(client, name) for name in OAuthClient.ENDPOINTS}


def requested_scopes(client: OAuthClient) -> list[str]:
    scopes = [*IDENTITY_SCOPES.get(client.provider, ()), *client.scopes.split()]
    return list(dict.fromkeys(scopes))


def authorization_params(
    client: OAuthClient, connection: EmailConnection, reauthorize: bool
) -> dict[str, str]:
    """The provider-specific query parameters besides client_id, scope, state and PKCE."""
    params = {"login_hint": connection.user_name.strip()}
    if client.provider == Provider.MICROSOFT:
        params["prompt"] = "consent" if reauthorize else "select_account"
    elif client.provider == Provider.GOOGLE:
        params["access_type"] = "offline"
        params["prompt"] = "consent"
    return params


def refresh_scopes(client: OAuthClient) -> list[str] | None:
    """Microsoft's v2 token endpoint wants the scopes again on refresh; others reuse the grant."""
    if client.provider == Provider.MICROSOFT:
        return requested_scopes(client)
    return None
