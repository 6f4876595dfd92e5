"""Content-Security-Policy: no inline script or style on any page, and the pages still work."""

import base64
import hashlib
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from oauth2_provider.models import Application
from playwright.sync_api import expect

from tests.factories import make_connection, save

VERIFIER = "a-code-verifier-long-enough-for-pkce-0123456789-abcdefghijklmnop"
CHALLENGE = (
    base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=").decode()
)


@pytest.mark.django_db
def test_pages_carry_a_policy_without_inline_script_or_style(admin_client_logged: object) -> None:
    connection = make_connection()
    for path in ("/accounts/login/", "/connections/", connection.get_absolute_url(), "/api/docs/"):
        policy = admin_client_logged.get(path)["Content-Security-Policy"]
        directives = {
            part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()
        }
        assert directives["script-src"] == ["'self'"], path
        assert directives["style-src"] == ["'self'"], path
        assert directives["frame-ancestors"] == ["'none'"], path


@pytest.mark.django_db
def test_the_api_docs_start_up_script_is_a_file_not_inline(client: object) -> None:
    page = client.get("/api/docs/").content.decode()
    assert "<script>" not in page
    assert "<style>" not in page
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert "SwaggerUIBundle" in script.content.decode()


@pytest.mark.django_db
def test_the_consent_page_lets_its_form_redirect_to_the_registered_client_only(
    admin_client_logged: object, admin_user: object
) -> None:
    app = oauth_app(admin_user, "https://client.example.com/cb")
    page = admin_client_logged.get(authorize_url(app, "https://client.example.com/cb"))
    assert page.status_code == 200
    assert "form-action 'self' https://client.example.com" in page["Content-Security-Policy"]
    other = admin_client_logged.get(authorize_url(app, "https://evil.example.com/cb"))
    assert "evil.example.com" not in other["Content-Security-Policy"]


def oauth_app(owner: object, redirect_uri: str) -> Application:
    return Application.objects.create(
        name="client",
        user=owner,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
        redirect_uris=redirect_uri,
        client_secret="client-secret",
    )


def authorize_url(app: Application, redirect_uri: str) -> str:
    query = {
        "client_id": app.client_id,
        "response_type": "code",
        "redirect_uri": redirect_uri,
        "scope": "read",
        "state": "state-1",
        "code_challenge": CHALLENGE,
        "code_challenge_method": "S256",
    }
    return f"/o/authorize/?{urlencode(query)}"


def watch_csp(page: object) -> list[str]:
    """Collect what chromium reports as blocked by the policy (console and page errors)."""
    violations: list[str] = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    page.on("pageerror", lambda error: violations.append(str(error)))
    return violations


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_main_pages_work_in_chromium_without_a_csp_violation(
    page: object, live_server: object, admin_user: object
) -> None:
    connection = make_connection(password="pw-1")
    for description in ("second", "third"):
        connection.description = description
        connection = save(connection, admin_user)
    violations = watch_csp(page)
    page.set_default_timeout(10_000)
    base = live_server.url

    response = page.goto(f"{base}/accounts/login/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.fill("#id_username", "admin")
    page.fill("#id_password", "password")
    page.click("button[type=submit]")
    page.wait_for_url("**/connections/")
    expect(page.locator("table")).to_contain_text("Mailer")

    # Detail: the Type switch shows the IMAP fields at once (record_form.js).
    page.goto(f"{base}{connection.get_absolute_url()}")
    expect(page.locator("#div_id_imap_server")).to_be_hidden()
    page.select_option("#id_connection_type", "incoming")
    expect(page.locator("#div_id_imap_server")).to_be_visible()
    expect(page.locator("#div_id_smtp_server")).to_be_hidden()

    # Versions: a third pick unchecks the first (versions.js); the Restore dialog opens.
    page.goto(f"{base}{connection.get_absolute_url()}versions/")
    for number in ("1", "2", "3"):
        page.check(f'input.version-pick[value="{number}"]')
    expect(page.locator('input.version-pick[value="1"]')).not_to_be_checked()
    expect(page.locator("input.version-pick:checked")).to_have_count(2)
    page.locator('#versions tr[data-version="1"]').get_by_role("button", name="Restore").click()
    expect(page.locator("#restore-modal .restore-number").first).to_have_text("1")
    page.locator("#restore-modal").get_by_role("button", name="Cancel").click()
    expect(page.locator("#restore-modal")).to_be_hidden()
    page.get_by_role("button", name="Compare").click()
    expect(page.locator("#compare")).to_be_visible()

    page.goto(f"{base}/admin/auth/user/{admin_user.pk}/change/")
    expect(page.locator("#user_form")).to_be_visible()
    page.goto(f"{base}/admin/connections/emailconnection/{connection.pk}/change/")
    expect(page.locator("#id_name")).to_have_value("Mailer")

    # Swagger UI renders from its files (split view): its start-up script ran.
    page.goto(f"{base}/api/docs/")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Email Connections API")

    assert violations == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_consent_form_redirects_to_a_client_on_another_origin(
    logged_in_page: object, live_server: object, admin_user: object
) -> None:
    page = logged_in_page
    violations = watch_csp(page)
    redirect_uri = "http://127.0.0.1:9/callback"  # another origin (port): the client's
    app = oauth_app(admin_user, redirect_uri)
    page.route(
        "http://127.0.0.1:9/**", lambda route: route.fulfill(status=200, body="client got it")
    )
    page.goto(f"{live_server.url}{authorize_url(app, redirect_uri)}")
    page.click("input[name=allow]")
    expect(page.locator("body")).to_have_text("client got it")
    query = parse_qs(urlsplit(page.url).query)
    assert query["state"] == ["state-1"]
    assert query["code"]
    assert violations == []
