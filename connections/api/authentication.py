"""Bearer tokens of this app's own OAuth 2.0 server (django-oauth-toolkit).

A client-credentials token has no user in DOT: it acts as its Application's owner
(`application.user`), so model permissions, Business Service scoping and the history of
API changes all name a real user. An application without an owner cannot use the API.
"""

from typing import Any

from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from rest_framework import exceptions
from rest_framework.request import Request


class BearerTokenAuthentication(OAuth2Authentication):
    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        # The token is read from the Authorization header of the Django request: handing
        # DOT the DRF request would make it parse the JSON body (it looks for a token in
        # the body too) before the caller is even authenticated.
        result = super().authenticate(request._request)
        if result is None:
            return None
        user, token = result
        if user is None:
            user = token.application.user if token.application_id else None
        if user is None or not user.is_active:
            request.oauth2_error = {
                "error": "invalid_token",
                "error_description": "The token's application has no active owner user.",
            }
            raise exceptions.AuthenticationFailed(
                "This token acts for nobody: give its Application an active User in the admin."
            )
        return user, token
