"""Tasks in a real browser (Debian's chromium), run by a real worker process: an Email Task
made from a template, Run now followed to Succeeded, where the connection shows it."""

import subprocess
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from connections.models import EmailTask
from connections.worker import HUEY
from tests.browser import screenshot
from tests.factories import make_connection, make_template
from tests.test_task_monitor import Box, mail
from tests.test_worker import queue, worker, worker_env  # noqa: F401 - fixtures

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_runs_an_email_task_made_from_a_template_and_sees_where_it_is_used(
    logged_in_page: object,
    live_server: object,
    smtp_plain: object,
    worker: subprocess.Popen,  # noqa: F811
) -> None:
    connection = make_connection(
        name="Loopback SMTP", smtp_server=smtp_plain.host, smtp_port=smtp_plain.port
    )
    make_template(
        connection, name="Job failed", to="ops@example.com", subject="Job ${job}", body="Failed"
    )
    page = logged_in_page

    page.get_by_role("link", name="Email Tasks", exact=True).click()
    page.get_by_role("link", name="New", exact=True).click()
    page.fill("#id_name", "Nightly alert")
    page.select_option("#id_template", label="Job failed")
    page.fill("#id_variables", "job=nightly")
    expect(page.locator("#div_id_interval_minutes")).to_be_hidden()
    page.select_option("#id_schedule", "interval")
    expect(page.locator("#div_id_interval_minutes")).to_be_visible()
    page.fill("#id_interval_minutes", "60")
    page.get_by_role("button", name="Save & View").click()
    expect(page.locator("h1")).to_contain_text("Email Task: Nightly alert")
    screenshot(page, "email-task-detail")

    page.get_by_role("button", name="Run now").click()
    page.locator("#run-now-modal").get_by_role("button", name="Run").click()
    # the worker process runs it; the page asks for the status until the report is there
    expect(page.locator("#run-summary")).to_have_attribute(
        "data-status", "succeeded", timeout=30_000
    )
    expect(page.locator("#run-summary")).to_contain_text("Succeeded")
    expect(page.locator("#test-stages")).to_contain_text("RCPT TO")
    expect(page.locator("#run-ended")).not_to_have_text("—")  # the whole run view was renewed
    expect(page.locator("#test-stages")).to_contain_text("Mail sent")
    screenshot(page, "email-task-run")
    [received] = smtp_plain.messages
    assert received.message["Subject"] == "Job nightly"

    page.get_by_role("link", name="All runs").click()
    expect(page.locator("#task-runs tbody tr")).to_have_count(1)
    expect(page.locator("#task-runs")).to_contain_text("Succeeded")
    screenshot(page, "email-task-runs")

    page.goto(f"{live_server.url}{connection.get_absolute_url()}")
    page.get_by_role("link", name="Tasks", exact=True).click()
    expect(page.locator("#email-tasks")).to_contain_text("Nightly alert")
    expect(page.locator("#email-tasks")).to_contain_text("Succeeded")
    screenshot(page, "connection-tasks")

    page.get_by_role("button", name="Delete").click()
    expect(page.locator("#delete-in-use")).to_contain_text('Email Task "Nightly alert"')
    assert EmailTask.objects.filter(name="Nightly alert").exists()


@pytest.fixture
def inline_worker() -> Iterator[None]:
    """Jobs run as soon as they are enqueued, in the live server's thread."""
    immediate = HUEY.immediate
    HUEY.immediate = True
    yield
    HUEY.immediate = immediate


def test_an_operator_sets_up_a_monitor_that_moves_matching_mail_and_runs_it(
    logged_in_page: object, live_server: object, imap_server: object, inline_worker: None
) -> None:
    box = Box(imap_server)
    try:
        inbox, done = box.folder("inbox"), box.folder("done")
        box.append(inbox, mail("Invoice 12"))
        box.append(inbox, mail("Lunch"))
        make_connection(
            name="Dovecot",
            connection_type="incoming",
            imap_server=imap_server.host,
            imap_port=imap_server.port,
            email_address="alice@example.com",
            user_name=imap_server.user,
            password=imap_server.password,
        )
        page = logged_in_page
        page.get_by_role("link", name="Email Monitor Tasks", exact=True).click()
        page.get_by_role("link", name="New", exact=True).click()
        page.fill("#id_name", "Invoices to done")
        page.select_option("#id_connection", label="Dovecot")
        page.fill("#id_folder", inbox)
        page.select_option("#id_subject_operator", "contains")
        page.fill("#id_subject_value", "invoice")
        expect(page.locator("#div_id_move_folder")).to_be_hidden()
        page.select_option("#id_action", "move_mark_read")
        expect(page.locator("#div_id_move_folder")).to_be_visible()
        page.get_by_role("button", name="Save & View").click()
        expect(page.locator("#div_id_move_folder")).to_contain_text("Move needs a folder")

        page.fill("#id_move_folder", done)
        page.get_by_role("button", name="Save & View").click()
        expect(page.locator("h1")).to_contain_text("Email Monitor Task: Invoices to done")
        screenshot(page, "monitor-task-detail")
        page.get_by_role("button", name="Run now").click()

        expect(page.locator("#run-summary")).to_contain_text("Succeeded")
        expect(page.locator("#run-matches")).to_contain_text("Invoice 12")
        expect(page.locator("#run-matches")).to_contain_text("marked as read")
        screenshot(page, "monitor-task-run")
        assert box.flags(done) == {"Invoice 12": {"\\Seen"}}
        assert box.flags(inbox) == {"Lunch": set()}
    finally:
        box.close()
