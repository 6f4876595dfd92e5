"""The operator's day in a real browser, at a desktop (1280 px) and a phone (390 px) width."""

import re

import pytest
from playwright.sync_api import expect

from connections import records as save_path
from connections.models import EmailConnection
from tests.browser import SCREENSHOTS, screenshot
from tests.factories import (
    make_connection,
    make_oauth_client,
    make_service,
    make_template,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = {"desktop": 1280, "phone": 390}


@pytest.fixture
def records(admin_user: object) -> dict:
    service = make_service(admin_user, name="Accounting")
    make_service(admin_user, name="Operations")
    client = make_oauth_client(admin_user, name="Contoso Entra")
    connection = make_connection(
        admin_user,
        name="Invoices sender with a rather long name to wrap",
        smtp_server="smtp.a-very-long-host-name.example-company.internal",
        services=[service],
    )
    connection.description = "Sends invoices"
    save_path.save_record(connection, admin_user)
    oauth = make_connection(
        admin_user,
        name="Support mailbox",
        connection_type="incoming",
        imap_server="imap.example.com",
        imap_port=993,
        enable_ssl=True,
        authentication="oauth2",
        oauth_client=client,
        password="",
    )
    template = make_template(connection, admin_user, name="Invoice run", services=[service])
    return {
        "connection": connection,
        "oauth": oauth,
        "template": template,
        "client": client,
        "service": service,
    }


def pages_of(records: dict) -> dict[str, str]:
    c, t = records["connection"], records["template"]
    return {
        "connections": "/connections/",
        "connection-new": "/connections/new/",
        "connection": c.get_absolute_url(),
        "connection-oauth": records["oauth"].get_absolute_url(),
        "connection-templates": f"/connections/{c.pk}/templates/",
        "connection-tasks": f"/connections/{c.pk}/tasks/",
        "connection-authorize": f"/connections/{records['oauth'].pk}/authorize/",
        "connection-versions": f"/connections/{c.pk}/versions/",
        "connection-version": f"/connections/{c.pk}/versions/1/",
        "connection-compare": f"/connections/{c.pk}/versions/compare/?v=1&v=2",
        "templates": "/templates/",
        "template": t.get_absolute_url(),
        "template-new": "/templates/new/",
        "template-tasks": f"/templates/{t.pk}/tasks/",
        "email-tasks": "/email-tasks/",
        "email-task-new": "/email-tasks/new/",
        "monitor-tasks": "/monitor-tasks/",
        "monitor-task-new": "/monitor-tasks/new/",
        "oauth-client-new": "/oauth-clients/new/",
        "business-service-new": "/business-services/new/",
        "oauth-clients": "/oauth-clients/",
        "oauth-client": records["client"].get_absolute_url(),
        "business-services": "/business-services/",
        "business-service": records["service"].get_absolute_url(),
        "empty-search": "/connections/?q=nothing+like+it",
    }


@pytest.mark.parametrize("width", WIDTHS)
def test_no_page_scrolls_sideways_and_every_page_is_screenshotted(
    logged_in_page: object, live_server: object, records: dict, width: str
) -> None:
    page = logged_in_page
    page.set_viewport_size({"width": WIDTHS[width], "height": 900})
    for name, path in pages_of(records).items():
        response = page.goto(f"{live_server.url}{path}")
        assert response.status == 200, path
        page.wait_for_load_state("networkidle")
        scroll = page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= WIDTHS[width], f"{path} is {scroll} px wide at {WIDTHS[width]} px"
        screenshot(page, f"polish-{name}-{WIDTHS[width]}")


@pytest.mark.parametrize("width", WIDTHS.values())
def test_the_login_page_fits_a_phone_and_a_desktop(
    page: object, live_server: object, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 800})
    page.goto(f"{live_server.url}/accounts/login/")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    screenshot(page, f"polish-login-{width}")


def test_the_menu_collapses_on_a_phone(logged_in_page: object, live_server: object) -> None:
    page = logged_in_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/connections/")
    templates = page.get_by_role("link", name="Email Templates", exact=True)
    expect(templates).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(templates).to_be_visible()
    expect(page.locator("#navbar-user")).to_be_visible()
    expect(page.locator("#main-menu")).to_have_class(re.compile(r"(^| )show( |$)"))
    screenshot(page, "polish-menu-open-390")
    templates.click()
    expect(page.locator("h1")).to_have_text("Email Templates")

    page.set_viewport_size({"width": 1280, "height": 900})
    expect(page.get_by_role("button", name="Menu")).to_be_hidden()
    expect(page.get_by_role("link", name="Email Connections", exact=True)).to_be_visible()
    # Every link on one line: no link broken over two.
    assert page.locator("nav.navbar").bounding_box()["height"] < 50


def test_the_user_name_sits_on_the_line_of_the_menu_links(
    logged_in_page: object, live_server: object
) -> None:
    page = logged_in_page
    page.goto(f"{live_server.url}/connections/")
    user = page.locator("#navbar-user").bounding_box()
    logout = page.get_by_role("button", name="Log out").bounding_box()
    admin = page.get_by_role("link", name="Admin", exact=True).bounding_box()
    for other in (logout, admin):
        assert abs((user["y"] + user["height"] / 2) - (other["y"] + other["height"] / 2)) < 2


def test_delete_of_a_connection_in_use_names_its_users_in_the_dialog(
    logged_in_page: object, live_server: object, records: dict
) -> None:
    page = logged_in_page
    page.goto(f"{live_server.url}{records['connection'].get_absolute_url()}")
    page.get_by_role("button", name="Delete").click()
    dialog = page.locator("#delete-modal")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text('Email Template "Invoice run"')
    expect(dialog.get_by_role("button", name="Delete")).to_have_count(0)
    expect(dialog.get_by_role("button", name="Close").last).to_be_focused()
    screenshot(page, "polish-delete-in-use")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert EmailConnection.objects.filter(pk=records["connection"].pk).exists()


def test_the_copy_dialog_keeps_a_duplicate_name_error(
    logged_in_page: object, live_server: object, records: dict
) -> None:
    page = logged_in_page
    page.goto(f"{live_server.url}{records['connection'].get_absolute_url()}")
    page.get_by_role("button", name="Copy").click()
    name = page.locator("#copy-name")
    expect(name).to_be_focused()
    name.fill("support MAILBOX")
    page.locator("#copy-modal").get_by_role("button", name="Copy").click()
    expect(page.locator("#copy-error")).to_have_text("Name must be unique.")
    expect(page.locator("#copy-modal")).to_be_visible()
    expect(name).to_have_value("support MAILBOX")
    screenshot(page, "polish-copy-duplicate")
    name.fill("Invoices copy")
    name.press("Enter")
    expect(page.locator("h1")).to_contain_text("Invoices copy")
    expect(page.locator(".alert-success")).to_contain_text('copied to "Invoices copy"')


def test_leaving_a_changed_form_asks_first(
    logged_in_page: object, live_server: object, records: dict
) -> None:
    page = logged_in_page
    url = f"{live_server.url}{records['connection'].get_absolute_url()}"
    page.goto(url)
    page.get_by_role("link", name="Refresh").click()
    expect(page.locator("#leave-modal")).to_be_hidden()

    page.fill("#id_description", "typed, not saved")
    for button in ("Close", "Refresh", "New"):
        page.get_by_role("link", name=button, exact=True).click()
        expect(page.locator("#leave-modal")).to_be_visible()
        expect(page.locator("#leave-stay")).to_be_focused()
        # The viewport: a full-page capture leaves out a dialog added at the end of the page.
        page.screenshot(path=str(SCREENSHOTS / "polish-leave-asks.png"))
        page.keyboard.press("Escape")
        expect(page.locator("#leave-modal")).to_be_hidden()
        expect(page.locator("#id_description")).to_have_value("typed, not saved")
    page.get_by_role("link", name="Versions", exact=True).click()
    page.get_by_role("button", name="Leave without saving").click()
    expect(page.locator("#versions")).to_be_visible()
    assert EmailConnection.objects.get(pk=records["connection"].pk).description == "Sends invoices"


def test_a_new_form_asks_before_close_and_enter_saves(
    logged_in_page: object, live_server: object
) -> None:
    page = logged_in_page
    page.goto(f"{live_server.url}/connections/new/")
    expect(page.locator("#id_name")).to_be_focused()
    page.fill("#id_name", "Typed")
    page.get_by_role("link", name="Close").click()
    expect(page.locator("#leave-modal")).to_be_visible()
    page.get_by_role("button", name="Stay and keep editing").click()
    page.fill("#id_smtp_server", "smtp.example.com")
    page.fill("#id_email_address", "robot@example.com")
    page.fill("#id_user_name", "robot")
    page.fill("#id_password", "pa55-word")
    page.locator("#id_name").press("Enter")
    expect(page.locator(".alert-success")).to_contain_text('Email Connection "Typed" saved.')
    assert EmailConnection.objects.get(name="Typed").smtp_server == "smtp.example.com"


def required(page: object, name: str) -> bool:
    return page.locator(f'label[for="id_{name}"] .asteriskField').count() == 1


def test_the_required_marker_follows_type_and_authentication(
    logged_in_page: object, live_server: object, records: dict
) -> None:
    page = logged_in_page
    page.goto(f"{live_server.url}/connections/new/")
    auth = page.locator("#id_authentication option")
    assert required(page, "smtp_server") and required(page, "user_name")
    assert required(page, "password")
    expect(auth).to_have_count(3)

    page.select_option("#id_connection_type", "incoming")
    assert required(page, "imap_server") and not required(page, "smtp_server")
    expect(auth).to_have_count(2)
    expect(page.locator("#id_authentication option[value=none]")).to_have_count(0)
    page.select_option("#id_authentication", "oauth2")
    assert required(page, "oauth_client") and required(page, "user_name")
    assert not required(page, "password")
    screenshot(page, "polish-required-incoming-oauth")

    page.select_option("#id_connection_type", "outgoing")
    expect(auth).to_have_count(3)
    page.select_option("#id_authentication", "none")
    assert required(page, "smtp_server")
    assert not required(page, "user_name") and not required(page, "oauth_client")

    # A stored password: blank keeps it, until the server changes (the server says so too).
    page.goto(f"{live_server.url}{records['connection'].get_absolute_url()}")
    assert not required(page, "password")
    page.fill("#id_smtp_server", "smtp.elsewhere.example.com")
    assert required(page, "password")
    page.get_by_role("button", name="Update").click()
    expect(page.locator("#div_id_password .invalid-feedback")).to_contain_text("type the password")


def test_an_incoming_connection_opens_without_authentication_none(
    logged_in_page: object, live_server: object, records: dict
) -> None:
    page = logged_in_page
    page.goto(f"{live_server.url}{records['oauth'].get_absolute_url()}")
    expect(page.locator("#id_authentication option[value=none]")).to_have_count(0)
    expect(page.locator("#id_authentication")).to_have_value("oauth2")


def test_check_all_and_uncheck_all_set_every_business_service(
    logged_in_page: object, live_server: object, records: dict
) -> None:
    page = logged_in_page
    page.goto(f"{live_server.url}{records['connection'].get_absolute_url()}")
    boxes = page.locator('input[name="business_services"]')
    expect(boxes).to_have_count(2)
    page.get_by_role("button", name="Check All", exact=True).click()
    for i in range(2):
        expect(boxes.nth(i)).to_be_checked()
    page.get_by_role("button", name="Update").click()
    expect(page.locator(".alert-success")).to_contain_text("updated")
    connection = EmailConnection.objects.get(pk=records["connection"].pk)
    assert connection.business_services.count() == 2
    page.get_by_role("button", name="Uncheck All").click()
    for i in range(2):
        expect(boxes.nth(i)).not_to_be_checked()


def test_filters_and_page_size_apply_on_change(
    logged_in_page: object, live_server: object, records: dict
) -> None:
    page = logged_in_page
    page.goto(f"{live_server.url}/connections/")
    expect(page.locator("#filter-button")).to_be_hidden()
    expect(page.locator("#id_connection_type option").first).to_have_text("All")
    page.select_option("#id_connection_type", "incoming")
    expect(page).to_have_url(re.compile(r"connection_type=incoming"))
    rows = page.locator("#record-list tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Support mailbox")
    page.select_option("#id_per_page", "10")
    expect(page).to_have_url(re.compile(r"per_page=10"))
    expect(page).to_have_url(re.compile(r"connection_type=incoming"))
    page.fill("#id_q", "invoices")
    page.locator("#id_q").press("Enter")
    expect(page.locator("#empty-state")).to_contain_text("match")
    page.get_by_role("link", name="Port", exact=True).click()
    expect(page).to_have_url(re.compile(r"sort=port"))


def test_a_save_shows_that_it_is_under_way(logged_in_page: object, live_server: object) -> None:
    page = logged_in_page
    page.goto(f"{live_server.url}/connections/new/")
    held = []
    page.route("**/connections/new/", lambda route: held.append(route))
    # Read in the page: Playwright's own click and locators wait for the held navigation.
    state = page.evaluate(
        """() => new Promise((done) => {
            const save = document.querySelector("[name=_save]");
            save.click();
            setTimeout(() => done({
                spinner: Boolean(save.querySelector(".spinner-border")),
                disabled: save.getAttribute("aria-disabled"),
                posted: save.form.dataset.busy,
            }), 100);
        })"""
    )
    assert state == {"spinner": True, "disabled": "true", "posted": "1"}
    assert len(held) == 1
    held[0].continue_()
    page.unroute("**/connections/new/")
    expect(page.locator(".alert-danger")).to_contain_text("Please correct")
    expect(
        page.get_by_role("button", name="Save", exact=True).locator(".spinner-border")
    ).to_have_count(0)


@pytest.fixture
def _trust_the_test_ca(settings: object, mail_ca_file: str) -> None:
    settings.MAIL_TEST_CA_BUNDLE = mail_ca_file
    settings.MAIL_TEST_TIMEOUT = 3


@pytest.mark.usefixtures("_trust_the_test_ca")
def test_the_status_panel_and_the_list_follow_the_test(
    logged_in_page: object, live_server: object, smtp_starttls: object
) -> None:
    connection = make_connection(
        smtp_server=smtp_starttls.host,
        smtp_port=smtp_starttls.port,
        enable_starttls=True,
        user_name=smtp_starttls.user,
        password="not-the-password",
    )
    page = logged_in_page
    page.goto(f"{live_server.url}{connection.get_absolute_url()}")
    expect(page.locator("#status-label")).to_have_text("Untested")
    page.get_by_role("button", name="Test", exact=True).click()
    expect(page.locator("#test-summary")).to_contain_text("Test failed")
    expect(page.locator("#status-label")).to_have_text("Failing")
    expect(page.locator("#last-test")).not_to_have_text("never")

    page.fill("#id_password", smtp_starttls.password)
    page.get_by_role("button", name="Update").click()
    page.get_by_role("button", name="Test", exact=True).click()
    expect(page.locator("#test-summary")).to_contain_text("Test passed")
    expect(page.locator("#status-label")).to_have_text("OK")
    screenshot(page, "polish-status-after-test")
    page.goto(f"{live_server.url}/connections/")
    expect(page.locator("#record-list tbody tr").first).to_contain_text("OK")


def test_the_admin_shows_only_the_fields_of_the_type_and_authentication(
    logged_in_page: object, live_server: object
) -> None:
    page = logged_in_page
    page.goto(f"{live_server.url}/admin/connections/emailconnection/add/")
    smtp, imap = page.locator("#id_smtp_server"), page.locator("#id_imap_server")
    expect(smtp).to_be_visible()
    expect(imap).to_be_hidden()
    expect(page.locator("#id_trash_folder")).to_be_hidden()
    page.select_option("#id_connection_type", "incoming")
    expect(smtp).to_be_hidden()
    expect(imap).to_be_visible()
    expect(page.locator("#id_system_connection")).to_be_hidden()
    expect(page.locator("#id_authentication option[value=none]")).to_have_count(0)
    page.select_option("#id_authentication", "oauth2")
    expect(page.locator("#id_oauth_client")).to_be_visible()
    expect(page.locator("#id_password")).to_be_hidden()
    expect(page.locator('label[for="id_oauth_client"]')).to_have_class(re.compile("required"))
    for width in WIDTHS.values():
        page.set_viewport_size({"width": width, "height": 900})
        screenshot(page, f"polish-admin-connection-{width}")


def test_a_filter_or_a_link_shows_a_loading_bar_while_the_page_comes(
    logged_in_page: object, live_server: object, records: dict
) -> None:
    page = logged_in_page
    page.goto(f"{live_server.url}/connections/")
    held = []
    page.route("**/connections/?*", lambda route: held.append(route))
    loading = page.evaluate(
        """() => new Promise((done) => {
            const select = document.getElementById("id_connection_type");
            select.value = "incoming";
            select.dispatchEvent(new Event("change", { bubbles: true }));
            setTimeout(() => done(document.body.classList.contains("loading")), 100);
        })"""
    )
    assert loading
    held[0].continue_()
    page.unroute("**/connections/?*")
    expect(page).to_have_url(re.compile("connection_type=incoming"))
    expect(page.locator("body")).not_to_have_class(re.compile("loading"))


def test_a_refused_save_asks_before_leaving_but_a_refused_delete_does_not(
    logged_in_page: object, live_server: object, records: dict
) -> None:
    page = logged_in_page
    url = f"{live_server.url}{records['connection'].get_absolute_url()}"
    page.goto(url)
    page.evaluate(
        "document.getElementById('delete-modal').querySelector('form').submit()"
    )  # as a second operator's template would make it: refused, with an error message
    expect(page.locator(".alert-danger.alert-dismissible")).to_contain_text("not deleted")
    page.get_by_role("link", name="Close").click()
    expect(page.locator("#record-list")).to_be_visible()

    page.goto(url)
    page.fill("#id_smtp_port", "70000")
    page.get_by_role("button", name="Update").click()
    expect(page.locator("#div_id_smtp_port .invalid-feedback")).to_contain_text("65535")
    page.get_by_role("link", name="Close").click()
    expect(page.locator("#leave-modal")).to_be_visible()
