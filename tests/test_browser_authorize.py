"""Authorize in chromium against this app's own OAuth server: the button, the provider's
consent page, the callback, then Test logging in with XOAUTH2 at an SMTP server that checks
the token at /o/introspect/."""

import pytest
from playwright.sync_api import expect

from connections.models import EmailConnection
from connections.oauth import tokens
from tests.browser import screenshot
from tests.oauth_provider import (
    MAILBOX_PASSWORD,
    MAILBOX_USER,
    Provider,
    authorize_in_console,
    oauth_connection,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def mailbox_page(page: object, provider: Provider) -> object:
    """Chromium logged in to the console as the mailbox user, at 127.0.0.1 like the provider
    (a redirect URI may use plain http only to a loopback address)."""
    page.set_default_timeout(15_000)
    page.goto(f"{provider.base}/accounts/login/")
    page.fill("#id_username", MAILBOX_USER)
    page.fill("#id_password", MAILBOX_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/connections/")
    return page


def test_an_operator_authorizes_a_connection_and_its_test_passes_with_xoauth2(
    mailbox_page: object, provider: Provider, oauth_client: object, smtp_oauth: object
) -> None:
    connection = oauth_connection(
        oauth_client, smtp_server=smtp_oauth.host, smtp_port=smtp_oauth.port
    )
    url = f"{provider.base}{connection.get_absolute_url()}"
    page = mailbox_page
    page.goto(url)
    expect(page.locator("#authorize-button")).to_have_text("Authorize")
    page.click("#authorize-button")
    page.wait_for_url(f"{provider.authorize_url}**")  # the provider's consent page
    if "/accounts/login/" in page.url:
        page.fill("#id_username", MAILBOX_USER)
        page.fill("#id_password", MAILBOX_PASSWORD)
        page.click("button[type=submit]")
    page.click("input[name=allow]")
    page.wait_for_url(f"{url}**")
    panel = page.locator("#authorization-panel")
    expect(panel.locator("#authorized")).to_have_text("Yes")
    expect(panel).to_contain_text(MAILBOX_USER)
    expect(panel).to_contain_text("openid email")
    expect(page.locator("#authorize-button")).to_have_text("Reauthorize")
    expect(page.locator("#disconnect-button")).to_be_visible()
    screenshot(page, "authorize-authorized")

    page.get_by_role("button", name="Test", exact=True).click()
    expect(page.locator("#test-summary")).to_contain_text("Test passed")
    expect(page.locator('#test-stages tr[data-stage="auth"]')).to_have_attribute(
        "data-status", "ok"
    )
    screenshot(page, "authorize-test-passed")
    assert smtp_oauth.checks == [{"user": MAILBOX_USER, "active": True, "username": MAILBOX_USER}]
    assert EmailConnection.objects.get(pk=connection.pk).oauth_account == MAILBOX_USER


def test_a_refresh_token_revoked_at_the_provider_shows_reauthorization_needed(
    mailbox_page: object, provider: Provider, oauth_client: object
) -> None:
    connection = oauth_connection(oauth_client)
    authorize_in_console(provider, connection)
    connection.refresh_from_db()
    provider.revoke(connection.get_secret("oauth_refresh_token"), "refresh_token")
    assert tokens.refresh(connection, force=True) is False
    page = mailbox_page
    page.goto(f"{provider.base}{connection.get_absolute_url()}")
    expect(page.locator("#reauthorization-needed")).to_contain_text("Reauthorization needed")
    expect(page.locator("#authorization-error")).to_contain_text("invalid_grant")
    expect(page.locator("#authorize-button")).to_have_text("Reauthorize")
    screenshot(page, "authorize-reauthorization-needed")


def test_the_oauth_client_page_shows_the_redirect_url_registered_at_the_provider(
    mailbox_page: object, provider: Provider, oauth_client: object
) -> None:
    page = mailbox_page
    page.goto(f"{provider.base}{oauth_client.get_absolute_url()}")
    expect(page.locator("#redirect-url")).to_have_value(provider.redirect_url)
    screenshot(page, "authorize-oauth-client-redirect-url")
