"""Production readiness: `check --deploy` is clean under the README's production variables,
the HTTPS settings come from the environment, /healthz, and the OAuth server follows RFC 9700
(each point through the real /o/ endpoints)."""

import base64
import hashlib
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ValidationError
from oauth2_provider.models import AccessToken, Application, Grant

ROOT = Path(__file__).resolve().parent.parent
SECRET = "client-secret-for-deploy-tests"
VERIFIER = secrets.token_urlsafe(48)
CHALLENGE = (
    base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
)
HTTPS_CLIENT = "https://client.example.com/cb"
LOOPBACK_CLIENT = "http://127.0.0.1:8765/cb"


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL to stand for the README's (the worker's queue connects at start-up): the
    suite's own under `make pytest-postgres`, else a throwaway one on 127.0.0.1."""
    if os.environ.get("DATABASE_URL", "").startswith("postgres"):
        yield os.environ["DATABASE_URL"]
        return
    binaries = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
    if not binaries:
        pytest.skip("PostgreSQL is not installed (.ci/with-postgres installs it)")
    pg = binaries[-1]
    folder = Path(tempfile.mkdtemp(prefix="pg-deploy-"))
    shutil.chown(folder, "postgres", "postgres")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    as_postgres = ["runuser", "-u", "postgres", "--"]
    subprocess.run(
        [*as_postgres, pg / "initdb", "-D", folder / "data", "-U", "postgres", "--auth=trust"],
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c fsync=off"
    ctl = [*as_postgres, pg / "pg_ctl", "-D", folder / "data", "-l", folder / "log", "-w"]
    subprocess.run([*ctl, "-o", options, "start"], check=True, capture_output=True)
    try:
        yield f"postgres://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*ctl, "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def production_environment(tmp_path: Path) -> dict[str, str]:
    """The variables of the README's Production block; <placeholders> get real values."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Production", 1)[1]
    block = section.split("```", 2)[1]
    variables = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(\S*)", block, re.MULTILINE))
    for name, value in variables.items():
        if value.startswith("<"):
            keep = name == "FIELD_ENCRYPTION_KEYS"
            variables[name] = Fernet.generate_key().decode() if keep else secrets.token_urlsafe(50)
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE"))}
    return base | variables | {"APP_VAR_DIR": str(tmp_path)}


def test_the_readme_production_settings_pass_check_deploy_without_a_warning(
    tmp_path: Path, postgres_url: str
) -> None:
    environment = production_environment(tmp_path)
    assert environment["DJANGO_SECURE_SSL_REDIRECT"] == "1"
    assert environment["DATABASE_URL"].startswith("postgres://")
    environment["DATABASE_URL"] = postgres_url
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert "System check identified no issues (0 silenced)." in result.stdout


@pytest.mark.django_db
def test_the_health_endpoint_answers_without_login(client: Any) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


@pytest.mark.django_db
def test_the_health_endpoint_answers_over_http_when_everything_else_redirects(
    client: Any, settings: Any
) -> None:
    settings.SECURE_SSL_REDIRECT = True
    assert client.get("/connections/").status_code == 301
    assert client.get("/healthz").status_code == 200


def test_the_health_endpoint_says_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    probe = (
        "import django; django.setup(); from django.test import Client; "
        "r = Client().get('/healthz'); print(r.status_code, r.content.decode())"
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("DATABASE")} | {
        "DATABASE_URL": f"sqlite:///{tmp_path}/no-such-folder/db.sqlite3",
        "APP_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.stdout.startswith('503 {"status": "failing", "database": "unreachable"}'), (
        result.stderr
    )


def test_the_https_settings_come_from_the_environment(tmp_path: Path) -> None:
    names = [
        "SECURE_SSL_REDIRECT",
        "SECURE_PROXY_SSL_HEADER",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_HSTS_PRELOAD",
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
    ]
    probe = f"from django.conf import settings as s; print([getattr(s, n) for n in {names}])"
    environment = production_environment(tmp_path) | {"DJANGO_SETTINGS_MODULE": "config.settings"}
    environment.pop("DATABASE_URL")
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    expected = [True, ("HTTP_X_FORWARDED_PROTO", "https"), 31536000, True, True, True, True]
    assert result.stdout.strip() == str(expected), result.stderr


# RFC 9700 through the real /o/ endpoints ---------------------------------------------------


def oauth_app(owner: Any, grant: str, redirect_uri: str = HTTPS_CLIENT) -> Application:
    return Application.objects.create(
        name=f"{grant} client",
        user=owner,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=grant,
        redirect_uris=redirect_uri,
        client_secret=SECRET,
    )


def basic(app: Application) -> str:
    return "Basic " + base64.b64encode(f"{app.client_id}:{SECRET}".encode()).decode()


def consent(client: Any, app: Application, **overrides: str) -> Any:
    """POST the consent form (Authorize) as the logged-in user; answers the redirect."""
    fields = {
        "client_id": app.client_id,
        "response_type": "code",
        "redirect_uri": app.redirect_uris,
        "scope": "read",
        "state": "state-1",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
        "allow": "Authorize",
    }
    fields.update(overrides)
    fields = {key: value for key, value in fields.items() if value is not None}
    return client.post("/o/authorize/", fields)


def redirect_query(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 302, response.content
    return parse_qs(urlsplit(response["Location"]).query)


def tokens_by_code(client: Any, app: Application) -> dict[str, Any]:
    code = redirect_query(consent(client, app))["code"][0]
    response = client.post(
        "/o/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": app.redirect_uris,
            "code_verifier": VERIFIER,
        },
        HTTP_AUTHORIZATION=basic(app),
    )
    assert response.status_code == 200, response.content
    return response.json()


def refresh(client: Any, app: Application, refresh_token: str) -> Any:
    return client.post(
        "/o/token/",
        {"grant_type": "refresh_token", "refresh_token": refresh_token},
        HTTP_AUTHORIZATION=basic(app),
    )


@pytest.mark.django_db
def test_the_implicit_grant_is_refused(admin_client_logged: Any, admin_user: Any) -> None:
    app = oauth_app(admin_user, Application.GRANT_IMPLICIT)
    query = {
        "client_id": app.client_id,
        "response_type": "token",
        "redirect_uri": HTTPS_CLIENT,
        "scope": "read",
    }
    page = admin_client_logged.get(f"/o/authorize/?{urlencode(query)}")
    assert redirect_query(page)["error"] == ["unauthorized_client"]
    posted = consent(admin_client_logged, app, response_type="token")
    assert "access_token" not in posted.get("Location", "")
    assert not AccessToken.objects.exists()


@pytest.mark.django_db
def test_the_password_grant_is_refused(client: Any, admin_user: Any) -> None:
    app = oauth_app(admin_user, Application.GRANT_PASSWORD)
    response = client.post(
        "/o/token/",
        {"grant_type": "password", "username": "admin", "password": "password", "scope": "read"},
        HTTP_AUTHORIZATION=basic(app),
    )
    assert response.status_code in (400, 401)
    assert "access_token" not in response.json()
    assert not AccessToken.objects.exists()


@pytest.mark.django_db
def test_authorization_needs_a_pkce_challenge(admin_client_logged: Any, admin_user: Any) -> None:
    app = oauth_app(admin_user, Application.GRANT_AUTHORIZATION_CODE)
    response = consent(admin_client_logged, app, code_challenge=None, code_challenge_method=None)
    assert redirect_query(response)["error"] == ["invalid_request"]
    assert not Grant.objects.exists()


@pytest.mark.django_db
def test_a_plain_pkce_challenge_is_refused(admin_client_logged: Any, admin_user: Any) -> None:
    app = oauth_app(admin_user, Application.GRANT_AUTHORIZATION_CODE)
    response = consent(
        admin_client_logged, app, code_challenge=VERIFIER, code_challenge_method="plain"
    )
    assert redirect_query(response)["error"] == ["invalid_request"]
    assert not Grant.objects.exists()


@pytest.mark.django_db
def test_an_s256_challenge_gets_a_code_and_the_response_names_the_issuer(
    admin_client_logged: Any, admin_user: Any
) -> None:
    app = oauth_app(admin_user, Application.GRANT_AUTHORIZATION_CODE)
    query = redirect_query(consent(admin_client_logged, app))
    assert query["code"]
    assert query["iss"] == ["http://testserver/o"]


@pytest.mark.django_db
def test_a_token_is_accepted_only_in_the_authorization_header(
    admin_client_logged: Any, admin_user: Any, client: Any
) -> None:
    app = oauth_app(admin_user, Application.GRANT_AUTHORIZATION_CODE)
    token = tokens_by_code(admin_client_logged, app)["access_token"]
    admin_client_logged.logout()
    assert client.get(f"/api/v1/connections/?access_token={token}").status_code == 401
    header = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    assert client.get(f"/api/v1/connections/?access_token={token}", **header).status_code == 401
    assert client.get("/api/v1/connections/", **header).status_code == 200


@pytest.mark.django_db
def test_userinfo_takes_the_token_only_from_the_authorization_header(
    admin_client_logged: Any, admin_user: Any, client: Any
) -> None:
    app = oauth_app(admin_user, Application.GRANT_AUTHORIZATION_CODE)
    app.algorithm = Application.RS256_ALGORITHM
    app.save()
    code = redirect_query(consent(admin_client_logged, app, scope="openid email"))["code"][0]
    admin_client_logged.logout()
    token = client.post(
        "/o/token/",
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": app.redirect_uris,
            "code_verifier": VERIFIER,
        },
        HTTP_AUTHORIZATION=basic(app),
    ).json()["access_token"]
    assert client.get(f"/o/userinfo/?access_token={token}").status_code == 401
    assert client.post("/o/userinfo/", {"access_token": token}).status_code == 401
    header = client.get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert header.status_code == 200
    assert header.json()["email"] == admin_user.email


@pytest.mark.django_db
def test_a_replayed_refresh_token_revokes_the_whole_family(
    admin_client_logged: Any, admin_user: Any, client: Any
) -> None:
    app = oauth_app(admin_user, Application.GRANT_AUTHORIZATION_CODE)
    first = tokens_by_code(admin_client_logged, app)
    admin_client_logged.logout()
    second = refresh(client, app, first["refresh_token"])
    assert second.status_code == 200, second.content
    second = second.json()

    replay = refresh(client, app, first["refresh_token"])
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    header = {"HTTP_AUTHORIZATION": f"Bearer {second['access_token']}"}
    assert client.get("/api/v1/connections/", **header).status_code == 401
    assert refresh(client, app, second["refresh_token"]).status_code == 400


def test_redirect_uris_outside_loopback_are_registered_with_https_only() -> None:
    for uri, valid in (("http://client.example.com/cb", False), (HTTPS_CLIENT, True)):
        app = Application(
            name="client",
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            redirect_uris=uri,
            client_secret=SECRET,
        )
        try:
            app.clean()
        except ValidationError as error:
            assert not valid and "redirect_uris" in error.message_dict
        else:
            assert valid


@pytest.mark.django_db
def test_the_admin_registers_https_or_loopback_redirect_uris_only(
    admin_client_logged: Any, admin_user: Any
) -> None:
    cases = {
        HTTPS_CLIENT: True,
        LOOPBACK_CLIENT: True,
        "http://[::1]:8765/cb": True,
        "http://client.example.com/cb": False,
        "http://localhost:8765/cb": False,
        f"{LOOPBACK_CLIENT} http://client.example.com/cb": False,
    }
    for number, (uris, valid) in enumerate(cases.items()):
        response = admin_client_logged.post(
            "/admin/oauth2_provider/application/add/",
            {
                "client_id": f"client-{number}",
                "client_secret": SECRET,
                "hash_client_secret": "on",
                "user": admin_user.pk,
                "redirect_uris": uris,
                "post_logout_redirect_uris": "",
                "allowed_origins": "",
                "client_type": Application.CLIENT_CONFIDENTIAL,
                "authorization_grant_type": Application.GRANT_AUTHORIZATION_CODE,
                "name": f"client {number}",
                "algorithm": "",
            },
        )
        assert (response.status_code == 302) == valid, uris
        assert Application.objects.filter(client_id=f"client-{number}").exists() == valid, uris


@pytest.mark.django_db
def test_authorization_redirects_over_http_only_to_loopback(
    admin_client_logged: Any, admin_user: Any
) -> None:
    loopback = oauth_app(admin_user, Application.GRANT_AUTHORIZATION_CODE, LOOPBACK_CLIENT)
    response = consent(admin_client_logged, loopback)
    assert response["Location"].startswith(f"{LOOPBACK_CLIENT}?")

    # Registered before https was required (bypassing validation): refused, never followed.
    remote = oauth_app(
        admin_user, Application.GRANT_AUTHORIZATION_CODE, "http://client.example.com/cb"
    )
    refused = consent(admin_client_logged, remote)
    assert refused.status_code == 400
    assert "Location" not in refused
    assert not Grant.objects.filter(application=remote).exists()
