"""The admin page of the OAuth server's Applications, with RFC 8252 loopback redirect URIs.

DOT checks redirect URIs against ALLOWED_REDIRECT_URI_SCHEMES, https only here (RFC 9700).
A tool on the user's own machine listens on http://127.0.0.1:<port>/ or http://[::1]:<port>/:
the admin accepts those too, as /o/authorize/ does (connections.api.oauth_views).
"""

from urllib.parse import urlsplit

from oauth2_provider import admin, forms
from oauth2_provider.settings import oauth2_settings

from connections.api.oauth_views import allowed_schemes


class ApplicationForm(forms.ApplicationForm):
    def _post_clean(self) -> None:
        uris = (self.cleaned_data.get("redirect_uris") or "").split()
        if uris and all(urlsplit(uri).scheme in allowed_schemes(uri, None) for uri in uris):
            # Every URI is https or loopback http: DOT's own checks may accept http here.
            schemes = [*oauth2_settings.ALLOWED_REDIRECT_URI_SCHEMES, "http"]
            self.instance.get_allowed_schemes = lambda: schemes
        super()._post_clean()


class ApplicationAdmin(admin.ApplicationAdmin):
    form = ApplicationForm
