"""This app's own OAuth server (django-oauth-toolkit at /o/) as the provider of the tests.

Loaded as a pytest plugin (from tests/mailservers.py, whose introspecting servers need it).
The real Microsoft and Google cannot be reached from here, so the app's own /o/ stands in
for them: the console is registered there as a confidential client, a mailbox user signs in
and consents, and the mail servers ask /o/introspect/ whether a bearer token is active.

DOT's introspection answers the Django username, and the mail servers compare it with the
XOAUTH2 user, so the mailbox user's username is their email address.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
import requests
from oauth2_provider.models import Application
from oauth2_provider.views.mixins import OAuthLibMixin

from connections.models import EmailConnection, OAuthClient
from tests.factories import save

CLIENT_ID = "email-console"
CLIENT_SECRET = "email-console-secret-for-tests"
# The mail servers' own registration: Basic auth at /o/introspect/ (fixed, so that a server
# started once per session can keep it in its configuration while the rows come and go).
INTROSPECTION_CLIENT_ID = "mail-servers"
INTROSPECTION_SECRET = "mail-servers-secret-for-tests"
MAILBOX_USER = "mailbox@example.com"
MAILBOX_PASSWORD = "mailbox-password-1"
SCOPE = "openid email"
TIMEOUT = 10


@dataclass
class Provider:
    """The /o/ endpoints of the live server and the console's registration there."""

    base: str
    client_id: str = CLIENT_ID
    client_secret: str = CLIENT_SECRET

    def url(self, path: str) -> str:
        return f"{self.base}/o/{path}"

    @property
    def authorize_url(self) -> str:
        return self.url("authorize/")

    @property
    def token_url(self) -> str:
        return self.url("token/")

    @property
    def userinfo_url(self) -> str:
        return self.url("userinfo/")

    @property
    def revoke_url(self) -> str:
        return self.url("revoke_token/")

    @property
    def introspect_url(self) -> str:
        return self.url("introspect/")

    @property
    def redirect_url(self) -> str:
        return f"{self.base}/oauth/callback/"

    def token_request(self, **data: str) -> requests.Response:
        """A POST to /o/token/ as the console (client_secret_basic)."""
        return requests.post(
            self.token_url,
            data=data,
            auth=(self.client_id, self.client_secret),
            timeout=TIMEOUT,
        )

    def refresh(self, refresh_token: str) -> requests.Response:
        return self.token_request(grant_type="refresh_token", refresh_token=refresh_token)

    def revoke(self, token: str, hint: str = "refresh_token") -> None:
        response = requests.post(
            self.revoke_url,
            data={"token": token, "token_type_hint": hint},
            auth=(self.client_id, self.client_secret),
            timeout=TIMEOUT,
        )
        assert response.status_code == 200, response.text

    def introspect(self, token: str) -> dict[str, Any]:
        response = requests.post(
            self.introspect_url,
            data={"token": token},
            auth=(INTROSPECTION_CLIENT_ID, INTROSPECTION_SECRET),
            timeout=TIMEOUT,
        )
        assert response.status_code == 200, response.text
        return response.json()


@dataclass
class Introspection:
    """Where and as whom a mail server checks a bearer token."""

    url: str
    client_id: str = INTROSPECTION_CLIENT_ID
    client_secret: str = INTROSPECTION_SECRET


def loopback_url(live_server: Any) -> str:
    """The live server's URL by IP: pytest-django says "localhost", but redirect URIs may
    only use http to a loopback address (RFC 8252; connections/api/oauth_views.py)."""
    split = urlsplit(live_server.url)
    return split._replace(netloc=f"127.0.0.1:{split.port}").geturl()


@pytest.fixture(scope="session")
def introspection(live_server: Any) -> Introspection:
    return Introspection(f"{loopback_url(live_server)}/o/introspect/")


@pytest.fixture
def introspection_client(transactional_db: None, mailbox_user: Any) -> Application:
    """The mail servers' registration at /o/ (client credentials, used for introspection)."""
    return Application.objects.create(
        name="Mail servers",
        client_id=INTROSPECTION_CLIENT_ID,
        client_secret=INTROSPECTION_SECRET,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        user=mailbox_user,
    )


@pytest.fixture
def mailbox_user(transactional_db: None, django_user_model: type) -> Any:
    """An administrator whose username is their email: they operate the console and own
    the mailbox, so the account that authorizes is the connection's User Name."""
    return django_user_model.objects.create_superuser(MAILBOX_USER, MAILBOX_USER, MAILBOX_PASSWORD)


@pytest.fixture
def provider(live_server: Any, transactional_db: None, mailbox_user: Any) -> Provider:
    """The console registered at this app's own /o/ as Microsoft or Google would have it."""
    provider = Provider(loopback_url(live_server))
    Application.objects.create(
        name="Email Connections console",
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=provider.redirect_url,
        algorithm=Application.RS256_ALGORITHM,
        user=mailbox_user,
    )
    return provider


@pytest.fixture
def oauth_client(provider: Provider, mailbox_user: Any) -> OAuthClient:
    """The console's OAuth Client record for the local provider (Custom)."""
    client = OAuthClient(
        name="Local test provider",
        provider=OAuthClient.Provider.CUSTOM,
        client_id=provider.client_id,
        scopes=SCOPE,
        authorization_endpoint=provider.authorize_url,
        token_endpoint=provider.token_url,
        userinfo_endpoint=provider.userinfo_url,
        revocation_endpoint=provider.revoke_url,
    )
    client.set_secret("client_secret", provider.client_secret)
    return save(client, mailbox_user)


def _forget_oauthlib_cores() -> None:
    """DOT builds its oauthlib server once per view class, with the settings of that moment."""
    classes = [OAuthLibMixin]
    while classes:
        cls = classes.pop()
        classes += cls.__subclasses__()
        if "_oauthlib_core" in cls.__dict__:
            delattr(cls, "_oauthlib_core")


@pytest.fixture
def short_lived_tokens(settings: Any) -> Iterator[int]:
    """Access tokens of the provider live 120 s: inside the 10 minutes before expiry when a
    refresh is due. Yields their lifetime."""
    lifetime = 120
    settings.OAUTH2_PROVIDER = {
        **settings.OAUTH2_PROVIDER,
        "ACCESS_TOKEN_EXPIRE_SECONDS": lifetime,
        "ALWAYS_RELOAD_OAUTHLIB_CORE": True,
    }
    _forget_oauthlib_cores()
    yield lifetime
    _forget_oauthlib_cores()  # or the next test would get the short lifetime too


def oauth_connection(oauth_client: OAuthClient, **values: Any) -> EmailConnection:
    """An OAuth 2.0 connection logging in as the mailbox user (Outgoing unless told)."""
    fields: dict[str, Any] = {
        "name": "Mailbox (OAuth)",
        "smtp_server": "127.0.0.1",
        "smtp_port": 25,
        "email_address": MAILBOX_USER,
        "authentication": EmailConnection.Auth.OAUTH2,
        "user_name": MAILBOX_USER,
        "oauth_client": oauth_client,
    }
    fields.update(values)
    return save(EmailConnection(**fields), oauth_client.created_by)


# --- Driving the flow with a requests.Session as the browser ------------------------------


class _Forms(HTMLParser):
    """The forms of a page: action, method and the inputs' name/value pairs."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({**values, "inputs": []})
        elif tag == "input" and self.forms and values.get("name"):
            self.forms[-1]["inputs"].append(values)


def forms(html: str) -> list[dict[str, Any]]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def log_in(session: requests.Session, base: str, username: str, password: str) -> None:
    """Log in through /accounts/login/ as a person would (one session for the console and
    for the provider: they are the same site here)."""
    page = session.get(f"{base}/accounts/login/", timeout=TIMEOUT)
    submit_login(session, page, username, password)


def submit_login(
    session: requests.Session, page: requests.Response, username: str, password: str
) -> requests.Response:
    form = next(f for f in forms(page.text) if any(i["name"] == "password" for i in f["inputs"]))
    data = {i["name"]: i.get("value", "") for i in form["inputs"]}
    data.update(username=username, password=password)
    response = session.post(
        urljoin(page.url, form.get("action") or page.url),
        data=data,
        headers={"Referer": page.url},
        timeout=TIMEOUT,
    )
    assert "didn't match" not in response.text, "the login was refused"
    return response


def consent(
    session: requests.Session, page: requests.Response, follow: bool = False
) -> requests.Response:
    """Press Authorize on DOT's consent page (after logging in there if it asks)."""
    if "/accounts/login/" in urlsplit(page.url).path:
        page = submit_login(session, page, MAILBOX_USER, MAILBOX_PASSWORD)
    form = next((f for f in forms(page.text) if f.get("id") == "authorizationForm"), None)
    assert form is not None, f"no consent form at {page.url}: {page.text[:500]}"
    data = {i["name"]: i.get("value", "") for i in form["inputs"] if i.get("type") != "submit"}
    data["allow"] = "Authorize"
    return session.post(
        page.url,
        data=data,
        headers={"Referer": page.url},
        allow_redirects=follow,
        timeout=TIMEOUT,
    )


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def run_flow(
    provider: Provider,
    session: requests.Session | None = None,
    scope: str = SCOPE,
    username: str = MAILBOX_USER,
    password: str = MAILBOX_PASSWORD,
) -> dict[str, Any]:
    """The authorization code flow with PKCE against /o/, by hand: the provider alone,
    without the console's client. Returns the token response."""
    session = session or requests.Session()
    verifier, challenge = pkce_pair()
    state = secrets.token_urlsafe(16)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": provider.client_id,
            "redirect_uri": provider.redirect_url,
            "scope": scope,
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    page = session.get(f"{provider.authorize_url}?{query}", timeout=TIMEOUT)
    if "/accounts/login/" in urlsplit(page.url).path:
        page = submit_login(session, page, username, password)
    answer = consent(session, page)
    assert answer.status_code == 302, answer.text[-1500:]
    location = answer.headers["Location"]
    assert location.startswith(provider.redirect_url), location
    params = parse_qs(urlsplit(location).query)
    assert params["state"] == [state]
    response = provider.token_request(
        grant_type="authorization_code",
        code=params["code"][0],
        redirect_uri=provider.redirect_url,
        code_verifier=verifier,
    )
    assert response.status_code == 200, response.text
    return response.json()


def console_session(provider: Provider) -> requests.Session:
    """A browser-like session logged in to the console as the mailbox user."""
    session = requests.Session()
    log_in(session, provider.base, MAILBOX_USER, MAILBOX_PASSWORD)
    return session


def authorize_in_console(
    provider: Provider, connection: EmailConnection, session: requests.Session | None = None
) -> requests.Response:
    """Press Authorize on the connection's page, consent at /o/authorize/, and follow the
    provider back to the console's callback. Returns the page the operator lands on."""
    session = session or console_session(provider)
    page_url = f"{provider.base}{connection.get_absolute_url()}"
    session.get(page_url, timeout=TIMEOUT)
    start = session.post(
        f"{page_url}authorize/",
        data={"csrfmiddlewaretoken": session.cookies.get("csrftoken", "")},
        headers={"Referer": page_url},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert start.status_code == 302, start.text[:500]
    assert start.headers["Location"].startswith(provider.authorize_url)
    page = session.get(start.headers["Location"], timeout=TIMEOUT)
    landed = consent(session, page, follow=True)
    assert landed.status_code == 200, landed.text[:1000]
    return landed
