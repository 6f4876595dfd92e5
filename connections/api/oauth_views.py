"""The authorization endpoint (/o/authorize/) of this app's OAuth server, with two fixes.

- The consent form posts to /o/authorize/, which redirects to the client's redirect URI.
  Chromium applies the page's CSP `form-action` to that redirect, so the consent page
  allows the origin of the (registered, checked) redirect URI as well as its own.
- Redirect URIs are https only (RFC 9700), except http to a loopback address (RFC 8252:
  native apps and local tools listen on 127.0.0.1 or ::1).
"""

from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest, HttpResponse
from oauth2_provider.http import OAuth2ResponseRedirect
from oauth2_provider.models import get_application_model
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views import AuthorizationView

LOOPBACK = {"127.0.0.1", "::1"}


def allowed_schemes(uri: str, application: Any) -> list[str]:
    schemes = list(
        application.get_allowed_schemes()
        if application is not None
        else oauth2_settings.ALLOWED_REDIRECT_URI_SCHEMES
    )
    if urlsplit(uri).hostname in LOOPBACK:
        schemes.append("http")
    return schemes


class CSPAuthorizationView(AuthorizationView):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        uri = request.POST.get("redirect_uri") or request.GET.get("redirect_uri")
        if uri and urlsplit(uri).scheme not in allowed_schemes(uri, None):
            # Refused before any code is issued (a URI registered before https was required).
            return self.refuse()
        response = super().dispatch(request, *args, **kwargs)
        client_id = request.GET.get("client_id")
        application = (
            get_application_model().objects.filter(client_id=client_id).first()
            if client_id
            else None
        )
        if uri and application and application.redirect_uri_allowed(uri):
            parts = urlsplit(uri)
            response._csp_update = {"form-action": [f"{parts.scheme}://{parts.netloc}"]}
        return response

    def redirect(self, redirect_to: str, application: Any) -> HttpResponse:
        schemes = allowed_schemes(redirect_to, application)
        if urlsplit(redirect_to).scheme not in schemes:
            return self.refuse()
        return OAuth2ResponseRedirect(redirect_to, schemes)

    def refuse(self) -> HttpResponse:
        description = "The redirect URI must use https (http only to 127.0.0.1 or ::1)."
        error = {"error": "invalid_request", "description": description}
        return self.render_to_response({"error": error}, status=400)
