"""Versions in a real browser: two operators on one record, compare, restore."""

import pytest
from playwright.sync_api import expect

from connections.models import EmailConnection
from tests.browser import screenshot
from tests.factories import make_connection

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_later_of_two_updates_is_refused_and_nothing_is_lost(
    logged_in_page: object, live_server: object
) -> None:
    connection = make_connection(password="pw-1")
    first = logged_in_page
    second = first.context.new_page()
    for page in (first, second):
        page.goto(f"{live_server.url}{connection.get_absolute_url()}")

    first.fill("#id_description", "from the first operator")
    first.get_by_role("button", name="Update").click()
    expect(first.locator("#record-version")).to_have_text("2")

    second.fill("#id_description", "from the second operator")
    second.get_by_role("button", name="Update").click()
    expect(second.locator(".alert-danger")).to_contain_text("since you opened it")
    expect(second.locator("#id_description")).to_have_value("from the second operator")
    expect(second.get_by_role("link", name="Compare version 1 with version 2")).to_be_visible()
    screenshot(second, "stale-update")
    assert EmailConnection.objects.get().description == "from the first operator"


def test_an_operator_compares_two_versions_and_restores_one(
    logged_in_page: object, live_server: object
) -> None:
    connection = make_connection(password="pw-1")
    page = logged_in_page
    page.goto(f"{live_server.url}{connection.get_absolute_url()}")
    page.fill("#id_smtp_port", "2600")
    page.fill("#id_password", "pw-2")
    page.get_by_role("button", name="Update").click()
    expect(page.locator("#record-version")).to_have_text("2")

    page.get_by_role("link", name="Versions", exact=True).click()
    page.check('input.version-pick[value="1"]')
    page.check('input.version-pick[value="2"]')
    page.get_by_role("button", name="Compare").click()
    changed = page.locator('#compare tr[data-changed="true"]')
    expect(changed).to_have_count(2)
    expect(changed.filter(has_text="SMTP Port")).to_contain_text("2600")
    expect(changed.filter(has_text="Password")).to_contain_text("changed")
    expect(page.locator("#compare")).not_to_contain_text("pw-2")
    screenshot(page, "versions-compare")

    page.get_by_role("link", name="All versions").click()
    page.locator('#versions tr[data-version="1"]').get_by_role("button", name="Restore").click()
    # version 1 uses another port: the password stored for port 2600 may not follow it
    page.locator("#restore-modal").get_by_role("button", name="Restore").click()
    expect(page.locator(".alert-danger")).to_contain_text("type the password again")
    assert EmailConnection.objects.get().version == 2
    page.locator('#versions tr[data-version="1"]').get_by_role("button", name="Restore").click()
    page.fill("#restore-password", "pw-1")
    page.locator("#restore-modal").get_by_role("button", name="Restore").click()
    expect(page.locator(".alert-success")).to_contain_text("restored as version 3")
    restored = EmailConnection.objects.get()
    assert restored.smtp_port == 2525
    assert restored.get_secret("password") == "pw-1"
    screenshot(page, "versions-restored")
