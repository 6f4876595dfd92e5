"""This app's own OAuth 2.0 / OpenID Connect server (django-oauth-toolkit), as configured here.

It issues the API's Bearer tokens, and it stands in for Microsoft and Google when an OAuth
2.0 connection is authorized against the "Local test provider" (demo data, tests).
"""

from collections.abc import Callable
from typing import Any

from oauth2_provider.oauth2_validators import OAuth2Validator


class Validator(OAuth2Validator):
    def get_additional_claims(self) -> dict[str, Callable[[Any], Any]]:
        # Request-agnostic (callables), so discovery lists the claims. DOT gives each one
        # only when its scope was granted: email needs "email", the names need "profile".
        return {
            "email": lambda request: request.user.email,
            "email_verified": lambda request: bool(request.user.email),
            "preferred_username": lambda request: request.user.get_username(),
            "name": lambda request: request.user.get_full_name(),
        }
