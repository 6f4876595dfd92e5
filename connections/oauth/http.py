"""Calls to a provider: the token endpoint (through requests-oauthlib), userinfo, revocation.

Every call is bounded by OAUTH_HTTP_TIMEOUT. Plain http is allowed only to a provider on
this machine (loopback): oauthlib refuses http everywhere unless a process-wide variable
lifts the check for every host, so instead oauthlib is shown the https form of a loopback
URL and the session's transport for exactly that host and port speaks plain http.
"""

import ipaddress
import json
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from oauthlib.oauth2 import OAuth2Error
from requests.adapters import HTTPAdapter
from requests_oauthlib import OAuth2Session


class ProviderError(Exception):
    """The provider could not be used: unreachable, too slow, refused, or answered nonsense.

    `error` is the OAuth error code when the provider sent one (e.g. invalid_grant).
    """

    def __init__(self, message: str, error: str = "") -> None:
        super().__init__(message)
        self.error = error


def is_loopback(host: str) -> bool:
    host = (host or "").strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_transport(url: str) -> None:
    parts = urlsplit(url or "")
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and is_loopback(parts.hostname or ""):
        return
    if parts.scheme == "http":
        raise ProviderError(
            f"{url} uses plain http: a provider must use https (plain http is allowed only "
            "to a provider on this machine, 127.0.0.1 or localhost)."
        )
    raise ProviderError(f"{url or 'An endpoint'} is not an http(s) URL: check the OAuth Client.")


def for_oauthlib(url: str) -> str:
    """The URL oauthlib is shown: https even for a (checked) loopback http URL."""
    check_transport(url)
    return "https" + url[4:] if url.startswith("http:") else url


def for_browser(url: str, original: str) -> str:
    """Undo for_oauthlib on a URL built from `original`."""
    if original.startswith("http:") and url.startswith("https:"):
        return "http" + url[5:]
    return url


class PlainLoopbackAdapter(HTTPAdapter):
    """Sends a request oauthlib saw as https://<loopback> over plain http."""

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        request.url = "http" + request.url[5:]
        return super().send(request, **kwargs)


def session(client_id: str, urls: list[str], **kwargs: Any) -> OAuth2Session:
    oauth = OAuth2Session(client_id, **kwargs)
    for url in urls:
        parts = urlsplit(url)
        if url and parts.scheme == "http" and is_loopback(parts.hostname or ""):
            oauth.mount(f"https://{parts.netloc}/", PlainLoopbackAdapter())
    return oauth


def timeout() -> float:
    return settings.OAUTH_HTTP_TIMEOUT


def unreachable(url: str, exc: Exception) -> ProviderError:
    host = urlsplit(url).netloc
    if isinstance(exc, requests.Timeout):
        return ProviderError(
            f"The provider ({host}) did not answer within {timeout():g} s: try again later."
        )
    return ProviderError(f"The provider ({host}) could not be reached: {type(exc).__name__}.")


def refused(exc: OAuth2Error) -> ProviderError:
    text = exc.error or "error"
    if exc.description:
        text = f"{text}: {exc.description}"
    return ProviderError(f"The provider refused: {text}", error=exc.error or "")


def call_token_endpoint(token_url: str, call: Any) -> dict[str, Any]:
    """Run fetch_token/refresh_token and turn every failure into a ProviderError."""
    try:
        return dict(call())
    except Warning as changed:
        # oauthlib's "Scope has changed" (Microsoft drops offline_access, Google adds
        # openid): not an error; the granted scopes are shown and compared instead.
        token = getattr(changed, "token", None)
        if token is None:
            raise ProviderError(f"Unexpected answer from the provider: {changed}") from None
        return dict(token)
    except OAuth2Error as exc:
        raise refused(exc) from None
    except requests.RequestException as exc:
        raise unreachable(token_url, exc) from None
    except ValueError:
        raise ProviderError(
            f"The token endpoint ({urlsplit(token_url).netloc}) did not answer with a token."
        ) from None


def exchange_code(
    client_id: str,
    client_secret: str,
    token_url: str,
    code: str,
    verifier: str,
    redirect_uri: str,
) -> dict[str, Any]:
    oauth = session(client_id, [token_url], redirect_uri=redirect_uri)
    return call_token_endpoint(
        token_url,
        lambda: oauth.fetch_token(
            for_oauthlib(token_url),
            code=code,
            code_verifier=verifier,
            include_client_id=True,
            client_secret=client_secret or None,
            timeout=timeout(),
        ),
    )


def refresh(
    client_id: str,
    client_secret: str,
    token_url: str,
    refresh_token: str,
    scopes: list[str] | None,
) -> dict[str, Any]:
    oauth = session(client_id, [token_url], scope=scopes)
    extra = {"client_id": client_id}
    if client_secret:
        extra["client_secret"] = client_secret
    return call_token_endpoint(
        token_url,
        lambda: oauth.refresh_token(
            for_oauthlib(token_url), refresh_token=refresh_token, timeout=timeout(), **extra
        ),
    )


def userinfo(url: str, access_token: str) -> dict[str, Any]:
    check_transport(url)
    try:
        response = requests.get(
            url,
            headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            timeout=timeout(),
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        raise unreachable(url, exc) from None
    if response.status_code != 200:
        raise ProviderError(
            f"The userinfo endpoint ({urlsplit(url).netloc}) answered {response.status_code}."
        )
    try:
        data = response.json()
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise ProviderError(f"The userinfo endpoint ({urlsplit(url).netloc}) sent no JSON.")
    return data


def revoke(url: str, client_id: str, client_secret: str, token: str, hint: str) -> None:
    """RFC 7009 revocation; the client authenticates in the body (Google and DOT accept it)."""
    check_transport(url)
    data = {"token": token, "token_type_hint": hint, "client_id": client_id}
    if client_secret:
        data["client_secret"] = client_secret
    try:
        response = requests.post(url, data=data, timeout=timeout(), allow_redirects=False)
    except requests.RequestException as exc:
        raise unreachable(url, exc) from None
    if response.status_code >= 400:
        raise ProviderError(
            f"The revocation endpoint ({urlsplit(url).netloc}) answered {response.status_code}."
        )
