"""The Test button in a real browser against aiosmtpd on 127.0.0.1."""

import pytest
from playwright.sync_api import expect

from tests.browser import screenshot
from tests.factories import make_connection

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _trust_the_test_ca(settings: object, mail_ca_file: str) -> None:
    settings.MAIL_TEST_CA_BUNDLE = mail_ca_file
    settings.MAIL_TEST_TIMEOUT = 3


def test_an_operator_tests_then_sends_a_test_mail(
    logged_in_page: object, live_server: object, smtp_starttls: object
) -> None:
    connection = make_connection(
        smtp_server=smtp_starttls.host,
        smtp_port=smtp_starttls.port,
        enable_starttls=True,
        user_name=smtp_starttls.user,
        password=smtp_starttls.password,
    )
    page = logged_in_page
    page.goto(f"{live_server.url}{connection.get_absolute_url()}")
    page.get_by_role("button", name="Test", exact=True).click()
    expect(page.locator("#test-summary")).to_contain_text("Test passed")
    expect(page.locator("#test-summary")).to_contain_text("nothing was sent")
    expect(page.locator('#test-stages tr[data-stage="data"]')).to_have_attribute(
        "data-status", "ok"
    )
    screenshot(page, "test-passed")
    assert smtp_starttls.messages == []

    page.fill("#test-recipient", "ops@example.com")
    page.get_by_role("button", name="Send test mail").click()
    expect(page.locator("#test-summary")).to_contain_text("a test mail was sent to ops@example.com")
    assert len(smtp_starttls.messages) == 1


def test_unsaved_changes_are_tested_and_kept_in_the_form(
    logged_in_page: object, live_server: object, smtp_starttls: object
) -> None:
    connection = make_connection(
        smtp_server=smtp_starttls.host,
        smtp_port=smtp_starttls.port,
        enable_starttls=True,
        user_name=smtp_starttls.user,
        password=smtp_starttls.password,
    )
    page = logged_in_page
    page.goto(f"{live_server.url}{connection.get_absolute_url()}")
    page.uncheck("#id_enable_starttls")
    page.fill("#id_description", "typed, not saved")
    page.get_by_role("button", name="Test", exact=True).click()
    expect(page.locator("#test-summary")).to_contain_text("Test failed")
    expect(page.locator("#test-summary")).to_contain_text("STARTTLS")
    screenshot(page, "test-failed")
    expect(page.locator("#id_description")).to_have_value("typed, not saved")
    expect(page.locator("#id_enable_starttls")).not_to_be_checked()
