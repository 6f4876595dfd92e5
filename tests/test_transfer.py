"""Export and import: the document, the preview, the save path, bad input; page, command, API."""

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from connections import crypto, records, transfer
from connections.models import (
    BusinessService,
    EmailConnection,
    EmailMonitorTask,
    EmailTask,
    EmailTemplate,
    OAuthClient,
)
from tests.factories import (
    make_connection,
    make_oauth_client,
    make_service,
    make_template,
    save,
    text,
)

pytestmark = pytest.mark.django_db

SECRETS = ("s3cret-password", "client-secret-value", "access-tok", "refresh-tok")


@pytest.fixture
def estate(admin_user: object) -> dict:
    """One record of every type, with secrets, tokens and a test result on them."""
    accounting = make_service(admin_user)
    client = make_oauth_client(admin_user, name="Entra", secret="client-secret-value")
    mailer = make_connection(admin_user, password="s3cret-password", services=[accounting])
    records.save_state(mailer, last_test_at=mailer.updated_at, last_test_ok=True)
    oauth = make_connection(
        admin_user,
        name="O365",
        password="",
        authentication=EmailConnection.Auth.OAUTH2,
        oauth_client=client,
        user_name="robot@example.com",
    )
    records.save_state(
        oauth,
        oauth_authorized=True,
        oauth_account="robot@example.com",
        oauth_access_token_enc=crypto.encrypt("access-tok"),
        oauth_refresh_token_enc=crypto.encrypt("refresh-tok"),
    )
    mailbox = make_connection(
        admin_user,
        name="Mailbox",
        connection_type=EmailConnection.Type.INCOMING,
        imap_server="127.0.0.1",
        imap_port=1143,
        trash_folder="Trash",
    )
    template = make_template(mailer, admin_user, name="Job failed", services=[accounting])
    task = save(
        EmailTask(name="Nightly", template=template, variables={"job": "backup"}), admin_user
    )
    monitor = save(
        EmailMonitorTask(
            name="Bounces", connection=mailbox, subject_operator="contains", subject_value="x"
        ),
        admin_user,
    )
    return {
        "service": accounting,
        "client": client,
        "mailer": mailer,
        "oauth": oauth,
        "mailbox": mailbox,
        "template": template,
        "task": task,
        "monitor": monitor,
    }


def document(*entries: dict, version: int = 1) -> str:
    return json.dumps({"format": transfer.FORMAT, "version": version, "records": list(entries)})


def connection_entry(**values: object) -> dict:
    return {
        "type": "email_connection",
        "name": "Imported",
        "connection_type": "outgoing",
        "smtp_server": "smtp.example.com",
        "smtp_port": 587,
        "enable_starttls": True,
        "email_address": "imported@example.com",
        "authentication": "password",
        "user_name": "imported",
        **values,
    }


def problems_of(data: str, user: object = None) -> list[str]:
    with pytest.raises(transfer.TransferError) as refused:
        transfer.run(data, user, "bad.json")
    return refused.value.problems


def delete_everything() -> None:
    for model in reversed(transfer.TYPES.values()):
        model.objects.all().delete()


# The document -------------------------------------------------------------------------


def test_an_export_holds_no_secret_token_authorization_state_test_result_or_history(
    estate: dict, admin_user: object
) -> None:
    exported = transfer.dumps(transfer.export(transfer.select(admin_user), admin_user))
    for secret in SECRETS:
        assert secret not in exported
    entries = json.loads(exported)["records"]
    keys = set().union(*entries)
    forbidden = {"password", "password_enc", "password_changed_at", "client_secret_enc"}
    forbidden |= {"oauth_authorized", "oauth_access_token_enc", "last_test_ok", "last_test_at"}
    forbidden |= {"version", "uuid", "created_by", "updated_at", "history", "last_run_status"}
    assert not keys & forbidden
    assert json.loads(exported)["format"] == transfer.FORMAT


def test_an_export_refers_to_other_records_by_name(estate: dict, admin_user: object) -> None:
    entries = transfer.export([estate["template"], estate["oauth"]], admin_user)["records"]
    by_name = {e["name"]: e for e in entries}
    assert by_name["Job failed"]["connection"] == "Mailer"
    assert by_name["Job failed"]["business_services"] == ["Accounting"]
    assert by_name["O365"]["oauth_client"] == "Entra"


def test_a_template_brings_its_connection_and_the_records_those_need(
    estate: dict, admin_user: object
) -> None:
    entries = transfer.export([estate["task"]], admin_user)["records"]
    assert [(e["type"], e["name"]) for e in entries] == [
        ("business_service", "Accounting"),
        ("email_connection", "Mailer"),
        ("email_template", "Job failed"),
        ("email_task", "Nightly"),
    ]


def test_the_operator_can_opt_out_of_the_records_a_selection_needs(
    estate: dict, admin_user: object
) -> None:
    entries = transfer.export([estate["template"]], admin_user, with_needed=False)["records"]
    assert [e["name"] for e in entries] == ["Job failed"]


def test_export_then_import_into_an_empty_database_gives_the_same_records(
    estate: dict, admin_user: object
) -> None:
    before = transfer.export(transfer.select(admin_user), admin_user)
    delete_everything()
    plan = transfer.run(transfer.dumps(before), admin_user, "all.json")
    after = transfer.export(transfer.select(admin_user), admin_user)
    assert plan.applied and {o.action for o in plan.outcomes} == {"Create"}
    assert after["records"] == before["records"]
    assert EmailConnection.objects.count() == 3 and EmailTask.objects.count() == 1


# Import: the preview and the save path ------------------------------------------------


def test_the_preview_says_create_update_with_the_changed_fields_unchanged_and_conflict(
    estate: dict, admin_user: object
) -> None:
    exported = transfer.export([estate["mailer"], estate["client"]], admin_user, False)
    mailer, client = exported["records"][1], exported["records"][0]
    mailer["description"] = "changed in test"
    mailer["enable_ssl"] = True
    clash = connection_entry(name="MAILBOX")  # an Incoming connection has this name here
    plan = transfer.run(
        document(client, mailer, clash, connection_entry()), admin_user, "f.json", dry_run=True
    )
    actions = {(o.name, o.action) for o in plan.outcomes}
    assert actions == {
        ("Entra", "Unchanged"),
        ("Mailer", "Update"),
        ("MAILBOX", "Conflict"),
        ("Imported", "Create"),
    }
    update = next(o for o in plan.outcomes if o.action == "Update")
    assert update.changed == ["Description", "Enable SSL"]
    conflict = next(o for o in plan.outcomes if o.action == "Conflict")
    assert "Incoming" in conflict.notes[0]
    assert not plan.applied
    assert not EmailConnection.objects.filter(name="Imported").exists()
    assert EmailConnection.objects.get(name="Mailer").description == ""


def test_a_conflict_applies_nothing(estate: dict, admin_user: object) -> None:
    plan = transfer.run(
        document(connection_entry(), connection_entry(name="Mailbox")), admin_user, "f.json"
    )
    assert not plan.applied
    assert not EmailConnection.objects.filter(name="Imported").exists()


def test_a_second_system_connection_is_a_conflict(admin_user: object) -> None:
    make_connection(admin_user, name="Current", system_connection=True)
    plan = transfer.run(document(connection_entry(system_connection=True)), admin_user, "f.json")
    (outcome,) = plan.outcomes
    assert outcome.action == "Conflict" and '"Current"' in outcome.notes[0]


def test_an_import_goes_through_the_save_path_with_the_file_name_and_the_user(
    estate: dict, operator: object
) -> None:
    estate["service"].users.add(operator)
    entry = transfer.export([estate["mailer"]], None, False)["records"][0]
    entry["description"] = "from production"
    transfer.run(document(entry, connection_entry()), operator, "prod.json")
    mailer = EmailConnection.objects.get(name="Mailer")
    assert mailer.version == 2 and mailer.updated_by == operator
    latest = mailer.history.latest()
    assert latest.history_change_reason == "Imported from prod.json"
    assert latest.history_user == operator
    created = EmailConnection.objects.get(name="Imported")
    assert created.version == 1 and created.history.get().history_change_reason == (
        "Imported from prod.json"
    )


def test_an_import_keeps_memberships_in_services_the_user_cannot_see(
    operator: object, admin_user: object
) -> None:
    hidden = make_service(admin_user, name="Hidden")
    mine = make_service(admin_user, name="Mine")
    mine.users.add(operator)
    make_connection(admin_user, services=[hidden, mine])
    entry = connection_entry(
        name="Mailer",
        smtp_server="127.0.0.1",
        smtp_port=2525,
        enable_starttls=False,
        email_address="robot@example.com",
        user_name="alice",
        description="new",
        business_services=[],
    )
    # Not visible to the operator at all while it is also in Hidden? It is: Mine is theirs.
    plan = transfer.run(document(entry), operator, "f.json")
    assert [o.action for o in plan.outcomes] == ["Update"]
    mailer = EmailConnection.objects.get(name="Mailer")
    assert list(mailer.business_services.values_list("name", flat=True)) == ["Hidden"]


def test_a_record_hidden_from_the_user_by_its_business_service_is_a_conflict(
    operator: object, admin_user: object
) -> None:
    make_connection(admin_user, services=[make_service(admin_user, name="Hidden")])
    plan = transfer.run(document(connection_entry(name="mailer")), operator, "f.json")
    assert plan.outcomes[0].action == "Conflict"
    assert "not a member" in plan.outcomes[0].notes[0]


def test_a_user_without_the_add_permission_gets_a_conflict(viewer: object) -> None:
    plan = transfer.run(document(connection_entry()), viewer, "f.json", dry_run=True)
    assert plan.outcomes[0].action == "Conflict"
    assert "permission to add" in plan.outcomes[0].notes[0]


def test_imported_password_connections_need_their_password_and_oauth_ones_authorize(
    estate: dict, admin_user: object, admin_client_logged: object
) -> None:
    exported = transfer.export([estate["oauth"], estate["mailer"]], admin_user)
    delete_everything()
    plan = transfer.run(transfer.dumps(exported), admin_user, "f.json")
    notes = {o.name: o.notes for o in plan.outcomes}
    assert notes["Mailer"] == ["Password needed: type it in the console."]
    assert notes["O365"] == ["Not authorized: Authorize it in the console."]
    oauth = EmailConnection.objects.get(name="O365")
    assert not oauth.oauth_authorized and not oauth.oauth_refresh_token_enc
    page = text(admin_client_logged.get("/connections/"))
    assert page.count("Password needed") == 1


def test_typing_the_password_clears_password_needed(admin_client_logged: object) -> None:
    transfer.run(document(connection_entry()), None, "f.json")
    connection = EmailConnection.objects.get()
    assert connection.get_status_display() == "Password needed"
    connection.set_secret("password", "typed")
    records.save_record(connection, None)
    assert "Password needed" not in text(admin_client_logged.get("/connections/"))


def test_an_import_that_moves_a_password_connection_leaves_it_without_its_password(
    admin_user: object,
) -> None:
    make_connection(admin_user, password="s3cret-password")
    entry = connection_entry(name="Mailer", smtp_server="elsewhere.example.com")
    plan = transfer.run(document(entry), admin_user, "f.json")
    assert "Password needed" in plan.outcomes[0].notes[0]
    assert "Password" in plan.outcomes[0].changed
    mailer = EmailConnection.objects.get()
    assert mailer.password_needed and mailer.smtp_server == "elsewhere.example.com"


def test_an_import_that_keeps_the_server_keeps_the_password_and_authorization(
    estate: dict, admin_user: object
) -> None:
    exported = transfer.export([estate["mailer"], estate["oauth"]], admin_user, False)
    for entry in exported["records"]:
        entry["description"] = "touched"
    transfer.run(transfer.dumps(exported), admin_user, "f.json")
    assert EmailConnection.objects.get(name="Mailer").get_secret("password") == "s3cret-password"
    assert EmailConnection.objects.get(name="O365").oauth_authorized


# Bad input: a clear message, nothing changed ------------------------------------------


def test_a_file_that_is_not_json_is_refused() -> None:
    assert problems_of("{not json")[0].startswith("The file is not JSON")


def test_a_format_version_from_the_future_is_refused() -> None:
    (problem,) = problems_of(document(version=2))
    assert "newer version of the console" in problem


def test_a_file_of_another_program_is_refused() -> None:
    assert "Not an export of this console" in problems_of('{"records": []}')[0]


def test_an_unknown_record_type_or_field_is_refused() -> None:
    found = problems_of(document({"type": "printer", "name": "x"}, connection_entry(colour="blue")))
    assert "unknown record type 'printer'" in found[0]
    assert found[1] == 'Email Connection "Imported": field "colour" is unknown.'


def test_a_secret_in_the_file_is_refused(admin_user: object) -> None:
    for key in ("password", "password_enc", "oauth_refresh_token_enc"):
        (problem,) = problems_of(document(connection_entry(**{key: "x"})), admin_user)
        assert f'"{key}" is a secret' in problem
    client = {"type": "oauth_client", "name": "C", "client_id": "a", "client_secret": "x"}
    assert '"client_secret" is a secret' in problems_of(document(client), admin_user)[0]
    assert not EmailConnection.objects.exists() and not OAuthClient.objects.exists()


def test_a_reference_to_a_record_neither_in_the_file_nor_here_is_refused(
    admin_user: object,
) -> None:
    template = {
        "type": "email_template",
        "name": "T",
        "connection": "Nowhere",
        "to": "a@example.com",
        "body": "x",
    }
    (problem,) = problems_of(document(template), admin_user)
    assert problem.startswith('Email Template "T": Email Connection "Nowhere" is neither')


def test_a_reference_to_a_record_the_file_brings_resolves(admin_user: object) -> None:
    template = {
        "type": "email_template",
        "name": "T",
        "connection": "imported",
        "to": "a@example.com",
        "body": "x",
    }
    transfer.run(document(template, connection_entry()), admin_user, "f.json")
    assert EmailTemplate.objects.get().connection.name == "Imported"


def test_an_invalid_value_names_the_record_and_the_field_and_nothing_is_imported(
    admin_user: object,
) -> None:
    found = problems_of(
        document(
            {"type": "business_service", "name": "Accounting"},
            connection_entry(email_address="not an address"),
            connection_entry(name="Two", smtp_port="587"),
        ),
        admin_user,
    )
    assert found == [
        'Email Connection "Two": field "smtp_port" must be a whole number.',
    ]
    (problem,) = problems_of(
        document(
            {"type": "business_service", "name": "Accounting"},
            connection_entry(email_address="not an address"),
        ),
        admin_user,
    )
    assert problem.startswith('Email Connection "Imported": Email Address: ')
    assert not BusinessService.objects.exists()


def test_a_file_over_the_size_limit_is_refused(settings: object) -> None:
    settings.IMPORT_MAX_BYTES = 100
    (problem,) = problems_of(document(connection_entry()))
    assert problem == "The file is larger than the limit of 0 KiB."


def test_a_record_twice_in_the_file_is_refused() -> None:
    (problem,) = problems_of(document(connection_entry(), connection_entry(name="IMPORTED")))
    assert "in the file twice" in problem


def test_deeply_nested_json_is_refused_not_a_crash() -> None:
    assert problems_of("[" * 100_000)[0].startswith("The file is not JSON")


# The pages ----------------------------------------------------------------------------


def test_the_list_exports_the_selected_rows_with_what_they_need(
    estate: dict, admin_client_logged: object
) -> None:
    response = admin_client_logged.get(
        "/templates/export/", {"id": [estate["template"].pk], "filter": ""}
    )
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith('attachment; filename="email-connections-')
    names = [e["name"] for e in json.loads(response.content)["records"]]
    assert names == ["Accounting", "Mailer", "Job failed"]


def test_the_list_exports_all_records_matching_its_filter(
    estate: dict, admin_client_logged: object
) -> None:
    response = admin_client_logged.get(
        "/connections/export/",
        {"all": "1", "filter": "connection_type=incoming", "only_selected": "1"},
    )
    assert [e["name"] for e in json.loads(response.content)["records"]] == ["Mailbox"]


def test_export_without_a_selection_goes_back_to_the_list_with_a_message(
    admin_client_logged: object,
) -> None:
    response = admin_client_logged.get("/connections/export/", {"filter": "q=x"}, follow=True)
    assert response.redirect_chain[-1][0] == "/connections/?q=x"
    assert "Select the records to export" in text(response)


def test_the_list_shows_checkboxes_and_the_export_button(
    estate: dict, admin_client_logged: object
) -> None:
    page = text(admin_client_logged.get("/connections/"))
    assert 'id="export-button"' in page and page.count('class="form-check-input select-row"') == 3


def test_the_import_page_previews_then_applies(admin_client_logged: object) -> None:
    upload = SimpleUploadedFile("prod.json", document(connection_entry()).encode())
    preview = admin_client_logged.post("/import/", {"file": upload})
    assert preview.status_code == 200
    assert 'data-action="Create"' in text(preview)
    assert not EmailConnection.objects.exists()
    plan = preview.context["plan_digest"]
    applied = admin_client_logged.post("/import/", {"apply": "1", "plan": plan})
    assert 'Imported "prod.json": 1 create.' in text(applied)
    assert EmailConnection.objects.get().history.get().history_change_reason == (
        "Imported from prod.json"
    )


def test_apply_after_the_records_changed_shows_the_new_preview_and_imports_nothing(
    admin_client_logged: object, admin_user: object
) -> None:
    upload = SimpleUploadedFile("f.json", document(connection_entry()).encode())
    plan = admin_client_logged.post("/import/", {"file": upload}).context["plan_digest"]
    make_connection(admin_user, name="Imported", smtp_server="smtp.example.com")
    response = admin_client_logged.post("/import/", {"apply": "1", "plan": plan})
    assert 'id="import-moved"' in text(response)
    assert EmailConnection.objects.get().version == 1


def test_the_import_page_shows_every_problem_of_a_bad_file(admin_client_logged: object) -> None:
    upload = SimpleUploadedFile("f.json", b"\xff\xfe not text")
    response = admin_client_logged.post("/import/", {"file": upload})
    assert response.status_code == 400
    assert "Nothing was imported:" in text(response) and "not UTF-8" in text(response)


def test_the_import_page_refuses_a_file_over_the_limit(
    admin_client_logged: object, settings: object
) -> None:
    settings.IMPORT_MAX_BYTES = 10
    upload = SimpleUploadedFile("f.json", document().encode())
    response = admin_client_logged.post("/import/", {"file": upload})
    assert response.status_code == 400 and "larger than the limit" in text(response)


def test_apply_without_a_preview_asks_for_the_file_again(admin_client_logged: object) -> None:
    response = admin_client_logged.post("/import/", {"apply": "1"}, follow=True)
    assert "Upload the file again" in text(response)


# The commands -------------------------------------------------------------------------


def test_the_commands_export_by_model_and_name_and_import_with_a_dry_run(
    estate: dict, tmp_path: Path, admin_user: object
) -> None:
    out = StringIO()
    call_command("export_records", "--model", "email_template", "--name", "job FAILED", stdout=out)
    names = [e["name"] for e in json.loads(out.getvalue())["records"]]
    assert names == ["Accounting", "Mailer", "Job failed"]
    path = tmp_path / "one.json"
    call_command("export_records", "--name", "Mailer", "--only-selected", "-o", str(path))
    entry = json.loads(path.read_text())["records"]
    entry[0]["description"] = "via command"
    path.write_text(json.dumps({"format": transfer.FORMAT, "version": 1, "records": entry}))
    out = StringIO()
    call_command("import_records", str(path), "--dry-run", "--user", "admin", stdout=out)
    assert 'Update    Email Connection "Mailer": Description' in out.getvalue()
    assert "Would import one.json: 1 update." in out.getvalue()
    assert EmailConnection.objects.get(name="Mailer").description == ""
    call_command("import_records", str(path), "--user", "admin", stdout=StringIO())
    mailer = EmailConnection.objects.get(name="Mailer")
    assert mailer.description == "via command" and mailer.updated_by == admin_user


def test_the_import_command_names_every_problem(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(document(connection_entry(password="x")))
    with pytest.raises(CommandError, match='"password" is a secret'):
        call_command("import_records", str(path))


def test_the_export_command_names_a_record_that_is_not_there() -> None:
    with pytest.raises(CommandError, match="No record named 'Ghost'"):
        call_command("export_records", "--name", "Ghost")


# The API ------------------------------------------------------------------------------


def test_the_api_exports_and_imports_with_a_dry_run(
    estate: dict, api: object, operator: object
) -> None:
    estate["service"].users.add(operator)
    exported = api.get("/api/v1/export/?model=email_connection&name=Mailer&only_selected=true")
    assert exported.status_code == 200, exported.json()
    (entry,) = exported.json()["records"]
    assert entry["name"] == "Mailer" and "s3cret-password" not in exported.content.decode()
    entry["description"] = "via API"
    body = {"format": transfer.FORMAT, "version": 1, "records": [entry]}
    preview = api.post("/api/v1/import/?dry_run=true", body)
    assert preview.status_code == 200
    assert preview.json()["records"][0]["changed"] == ["Description"]
    assert EmailConnection.objects.get(name="Mailer").description == ""
    applied = api.post("/api/v1/import/", body)
    assert applied.json()["applied"] is True
    latest = EmailConnection.objects.get(name="Mailer").history.latest()
    assert latest.history_change_reason == "Imported from an API request"


def test_the_api_imports_an_uploaded_file(api: object) -> None:
    upload = SimpleUploadedFile("up.json", document(connection_entry()).encode())
    response = api.client.post(
        "/api/v1/import/",
        {"file": upload, "dry_run": "false"},
        HTTP_AUTHORIZATION=f"Bearer {api.token}",
    )
    assert response.status_code == 200, response.content
    assert EmailConnection.objects.get().history.get().history_change_reason == (
        "Imported from up.json"
    )


def test_the_api_refuses_bad_input_and_conflicts_as_json(api: object, operator: object) -> None:
    refused = api.post("/api/v1/import/", document(connection_entry(password="x")))
    assert refused.status_code == 400
    assert '"password" is a secret' in refused.json()["errors"]["file"][0]
    make_connection(operator, name="Imported", connection_type="incoming", imap_server="h")
    conflict = api.post("/api/v1/import/", document(connection_entry()))
    assert conflict.status_code == 409
    assert list(conflict.json()["errors"]) == ['Email Connection "Imported"']


def test_the_api_import_needs_the_write_scope(api_as: object, operator: object) -> None:
    response = api_as(operator, "read").post("/api/v1/import/", document(connection_entry()))
    assert response.status_code == 403
    assert not EmailConnection.objects.exists()


def test_the_api_refuses_an_unknown_model_to_export(api: object) -> None:
    response = api.get("/api/v1/export/?model=printer")
    assert response.status_code == 404 and "Unknown record type" in response.json()["message"]
