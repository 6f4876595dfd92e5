"""This app's own OAuth 2.0 / OpenID Connect server (django-oauth-toolkit), as configured here.

It issues the API's Bearer tokens, and it stands in for Microsoft and Google when an OAuth
2.0 connection is authorized against the "Local test provider" (demo data, tests).
"""

from collections.abc import Callable
from typing import Any

from oauth2_provider.oauth2_validators import OAuth2Validator


class HeaderTokenValidator(OAuth2Validator):
    """RFC 9700 (4.3.2) and this API: an access token counts only in the Authorization header.
    oauthlib also takes an `access_token` parameter of the query string or a form body (DOT's
    gate covers the query string of the API only, not /o/userinfo/ nor a form body)."""

    def validate_bearer_token(self, token: str | None, scopes: list[str], request: Any) -> bool:
        scheme, _, value = (request.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() != "bearer" or value.strip() != token:
            return False
        return super().validate_bearer_token(token, scopes, request)


class Validator(HeaderTokenValidator):
    def get_additional_claims(self) -> dict[str, Callable[[Any], Any]]:
        # Request-agnostic (callables), so discovery lists the claims. DOT gives each one
        # only when its scope was granted: email needs "email", the names need "profile".
        return {
            "email": lambda request: request.user.email,
            "email_verified": lambda request: bool(request.user.email),
            "preferred_username": lambda request: request.user.get_username(),
            "name": lambda request: request.user.get_full_name(),
        }
