"""Export and import in a real browser: select rows and Export, then preview and Apply."""

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from connections.models import EmailConnection, EmailTemplate
from tests.browser import screenshot
from tests.factories import make_connection, make_template

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_operator_exports_selected_rows_then_previews_and_applies_the_import(
    logged_in_page: object, live_server: object, tmp_path: Path
) -> None:
    mailer = make_connection(password="s3cret-password")
    make_template(mailer, name="Job failed")
    make_template(mailer, name="Job done")
    page = logged_in_page
    page.goto(f"{live_server.url}/templates/")
    page.get_by_label("Select Job failed").check()
    with page.expect_download() as download:
        page.get_by_role("button", name="Export").click()
    exported = tmp_path / "export.json"
    download.value.save_as(exported)
    entries = json.loads(exported.read_text())["records"]
    assert [e["name"] for e in entries] == ["Mailer", "Job failed"]
    assert "s3cret-password" not in exported.read_text()

    entries[1]["subject"] = "Changed in the file"
    entries.append({**entries[1], "name": "Job retried"})
    exported.write_text(json.dumps({**json.loads(exported.read_text()), "records": entries}))
    page.goto(f"{live_server.url}/import/")
    page.set_input_files("#id_file", str(exported))
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#import-preview")
    expect(preview.locator('tr[data-action="Unchanged"]')).to_contain_text("Mailer")
    expect(preview.locator('tr[data-action="Update"]')).to_contain_text("Subject")
    expect(preview.locator('tr[data-action="Create"]')).to_contain_text("Job retried")
    screenshot(page, "import-preview")
    assert not EmailTemplate.objects.filter(name="Job retried").exists()

    page.get_by_role("button", name="Apply").click()
    expect(page.locator(".alert-success")).to_contain_text("1 create, 1 update, 1 unchanged")
    screenshot(page, "import-applied")
    assert EmailTemplate.objects.get(name="Job failed").subject == "Changed in the file"
    retried = EmailTemplate.objects.get(name="Job retried")
    assert retried.history.get().history_change_reason == "Imported from export.json"
    assert EmailConnection.objects.get().version == 1


def test_the_header_checkbox_selects_every_row_for_export(
    logged_in_page: object, live_server: object
) -> None:
    make_connection(name="One")
    make_connection(name="Two", smtp_server="127.0.0.2")
    page = logged_in_page
    page.goto(f"{live_server.url}/connections/")
    page.get_by_label("Select every row on this page").check()
    expect(page.locator("input.select-row:checked")).to_have_count(2)
    with page.expect_download() as download:
        page.get_by_role("button", name="Export").click()
    names = [e["name"] for e in json.loads(Path(download.value.path()).read_text())["records"]]
    assert names == ["One", "Two"]
