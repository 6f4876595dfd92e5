"""Tasks in a real browser (Debian's chromium), run by a real worker process: an Email Task
made from a template, Run now followed to Succeeded, where the connection shows it."""

import subprocess

import pytest
from playwright.sync_api import expect

from connections.models import EmailTask
from tests.browser import screenshot
from tests.factories import make_connection, make_template
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
