"""The operator's way through the pages in a real browser (Debian's chromium)."""

import pytest
from playwright.sync_api import expect

from connections.models import EmailConnection
from tests.browser import screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def fill_outgoing(page: object, name: str) -> None:
    page.fill("#id_name", name)
    page.fill("#id_smtp_server", "smtp.example.com")
    page.check("#id_enable_starttls")
    page.fill("#id_email_address", "robot@example.com")
    page.fill("#id_user_name", "robot")
    page.fill("#id_password", "browser-pa55")


def test_an_operator_creates_updates_copies_and_deletes_a_connection(
    logged_in_page: object, live_server: object
) -> None:
    page = logged_in_page
    page.get_by_role("link", name="Email Connections", exact=True).click()
    page.get_by_role("link", name="New", exact=True).click()
    fill_outgoing(page, "First")
    expect(page.locator("#id_smtp_port")).to_have_value("587")
    screenshot(page, "connection-new")
    page.get_by_role("button", name="Save & New").click()
    expect(page.locator(".alert-success")).to_contain_text('Email Connection "First" saved.')
    expect(page.locator("#id_name")).to_have_value("")

    fill_outgoing(page, "Second")
    page.get_by_role("button", name="Save & View").click()
    expect(page.locator("h1")).to_contain_text("Email Connection: Second")
    expect(page.get_by_role("button", name="Update")).to_be_visible()
    page.fill("#id_description", "Sends the invoices")
    page.get_by_role("button", name="Update").click()
    expect(page.locator(".alert-success")).to_contain_text('Email Connection "Second" updated.')
    expect(page.locator("#record-version")).to_have_text("2")
    screenshot(page, "connection-detail")

    page.get_by_role("link", name="Versions", exact=True).click()
    rows = page.locator("#versions tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Description")
    screenshot(page, "connection-versions")

    page.get_by_role("button", name="Copy").click()
    page.fill("#copy-name", "Second copy")
    page.locator("#copy-modal").get_by_role("button", name="Copy").click()
    expect(page.locator("h1")).to_contain_text("Second copy")
    assert EmailConnection.objects.get(name="Second copy").get_secret("password") == "browser-pa55"

    page.get_by_role("button", name="Delete").click()
    page.locator("#delete-modal").get_by_role("button", name="Delete").click()
    expect(page.locator(".alert-success")).to_contain_text('"Second copy" deleted.')
    assert sorted(EmailConnection.objects.values_list("name", flat=True)) == ["First", "Second"]
    screenshot(page, "connection-list")


def test_fields_appear_and_disappear_as_type_and_authentication_change(
    logged_in_page: object,
) -> None:
    page = logged_in_page
    page.get_by_role("link", name="New", exact=True).click()
    smtp, imap = page.locator("#div_id_smtp_server"), page.locator("#div_id_imap_server")
    expect(smtp).to_be_visible()
    expect(imap).to_be_hidden()
    expect(page.locator("#div_id_system_connection")).to_be_visible()
    expect(page.locator("#div_id_trash_folder")).to_be_hidden()

    page.select_option("#id_connection_type", "incoming")
    expect(smtp).to_be_hidden()
    expect(imap).to_be_visible()
    expect(page.locator("#div_id_system_connection")).to_be_hidden()
    expect(page.locator("#div_id_trash_folder")).to_be_visible()

    page.select_option("#id_authentication", "oauth2")
    expect(page.locator("#div_id_oauth_client")).to_be_visible()
    expect(page.locator("#div_id_password")).to_be_hidden()
    expect(page.locator("#div_id_user_name")).to_be_visible()

    page.select_option("#id_connection_type", "outgoing")
    page.select_option("#id_authentication", "none")
    expect(page.locator("#div_id_user_name")).to_be_hidden()
    expect(page.locator("#div_id_password")).to_be_hidden()
    expect(page.locator("#div_id_oauth_client")).to_be_hidden()
    page.check("#id_enable_ssl")
    expect(page.locator("#id_smtp_port")).to_have_value("465")


def test_bad_input_is_shown_next_to_the_field_and_nothing_is_saved(
    logged_in_page: object,
) -> None:
    page = logged_in_page
    page.get_by_role("link", name="New", exact=True).click()
    fill_outgoing(page, "Broken")
    page.fill("#id_smtp_port", "70000")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#div_id_smtp_port .invalid-feedback")).to_contain_text("65535")
    expect(page.locator("#id_name")).to_have_value("Broken")
    screenshot(page, "connection-invalid")
    assert not EmailConnection.objects.exists()
