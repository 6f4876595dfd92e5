"""The Django admin: versions carried like the pages', filters scoped, no 500 for odd URLs."""

from typing import Any

import pytest
from django.db import connection as db
from django.db.models import F
from django.forms import CheckboxInput
from django.test import Client
from django.urls import reverse

from connections import records
from connections.models import BusinessService, EmailConnection
from tests.factories import make_connection, make_oauth_client, make_service, make_template, text

pytestmark = pytest.mark.django_db


def change_url(record: Any) -> str:
    return reverse(f"admin:connections_{record._meta.model_name}_change", args=[record.pk])


def form_data(page: Any, **changes: str) -> dict:
    """What a browser posts from an admin change page: the editable fields it rendered."""
    data: dict[str, Any] = {"_save": "Save"}
    for fieldset in page.context["adminform"]:
        for line in fieldset:
            for field in line:
                if field.is_readonly:
                    continue
                bound = field.field
                value = bound.value()
                if isinstance(bound.field.widget, CheckboxInput):
                    if value:
                        data[bound.html_name] = "on"
                elif value is not None:
                    data[bound.html_name] = value
    return {**data, **changes}


@pytest.fixture
def bob(django_user_model: type) -> Any:
    return django_user_model.objects.create_superuser("bob", "bob@example.com", "pw")


@pytest.fixture
def bob_client(bob: Any) -> Client:
    client = Client()
    client.force_login(bob)
    return client


def test_a_stale_admin_save_is_refused_and_nothing_is_saved(
    admin_client_logged: Client, bob_client: Client
) -> None:
    connection = make_connection()
    url = change_url(connection)
    mine, bobs = admin_client_logged.get(url), bob_client.get(url)
    assert bob_client.post(url, form_data(bobs, description="Bob's")).status_code == 302
    response = admin_client_logged.post(url, form_data(mine, description="Mine"))
    assert response.status_code == 200
    errors = " ".join(response.context["adminform"].form.non_field_errors())
    assert "changed by bob" in errors
    assert "you opened version 1, it is now version 2" in errors
    connection.refresh_from_db()
    assert connection.version == 2
    assert connection.description == "Bob's"


def test_a_refused_admin_save_keeps_the_typed_values(
    admin_client_logged: Client, bob_client: Client
) -> None:
    connection = make_connection()
    url = change_url(connection)
    mine = admin_client_logged.get(url)
    bob_client.post(url, form_data(bob_client.get(url), description="Bob's"))
    response = admin_client_logged.post(url, form_data(mine, description="Typed by me"))
    assert response.context["adminform"].form["description"].value() == "Typed by me"
    assert "Typed by me" in text(response)


@pytest.mark.parametrize("kind", ["oauthclient", "emailtemplate", "businessservice"])
def test_every_admin_change_page_refuses_a_stale_save(
    admin_client_logged: Client, bob_client: Client, kind: str
) -> None:
    record = {
        "oauthclient": make_oauth_client,
        "emailtemplate": lambda: make_template(make_connection()),
        "businessservice": make_service,
    }[kind]()
    url = change_url(record)
    mine = admin_client_logged.get(url)
    bob_client.post(url, form_data(bob_client.get(url), description="Bob's"))
    response = admin_client_logged.post(url, form_data(mine, description="Mine"))
    assert response.status_code == 200
    record.refresh_from_db()
    assert (record.version, record.description) == (2, "Bob's")


def test_an_admin_save_racing_another_save_answers_with_a_message(
    admin_client_logged: Client,
) -> None:
    connection = make_connection()
    url = change_url(connection)
    page = admin_client_logged.get(url)
    raced = []

    def another_save_commits_first(execute: Any, sql: str, *args: Any) -> Any:
        # Between the form's check and the versioned UPDATE, another editor's save lands.
        if not raced and sql.startswith('UPDATE "connections_emailconnection" SET "version"'):
            raced.append(sql)
            EmailConnection.objects.filter(pk=connection.pk).update(version=F("version") + 1)
        return execute(sql, *args)

    with db.execute_wrapper(another_save_commits_first):
        response = admin_client_logged.post(url, form_data(page, description="Mine"), follow=True)
    assert raced
    assert response.status_code == 200
    assert "now version 2" in text(response)
    assert "Nothing was saved" in text(response)
    connection.refresh_from_db()
    assert connection.description == ""


def test_the_admin_change_page_carries_the_version_it_shows(
    admin_client_logged: Client,
) -> None:
    connection = make_connection()
    records.save_record(EmailConnection.objects.get(pk=connection.pk), None, m2m={})
    connection.description = "v2"
    records.save_record(connection, None)
    page = admin_client_logged.get(change_url(connection))
    assert form_data(page)["expected_version"] == 2


@pytest.fixture
def teams(operator: Any) -> dict:
    """The operator (staff) is in Accounting; Marketing is another team's."""
    accounting, marketing = make_service(name="Accounting"), make_service(name="Marketing")
    records.save_record(
        BusinessService.objects.get(pk=accounting.pk), None, m2m={"users": [operator]}
    )
    operator.is_staff = True
    operator.save()
    ours = make_connection(name="Ours", services=[accounting])
    theirs = make_connection(name="Theirs", smtp_port=2600, services=[marketing])
    make_connection(name="Unassigned", smtp_port=2700)
    make_template(ours, name="Our template", services=[accounting])
    make_template(theirs, name="Their template", services=[accounting])
    make_oauth_client(name="Entra")
    return {"accounting": accounting, "marketing": marketing}


def filter_choices(page: Any, title: str) -> list[str]:
    specs = {spec.title: spec for spec in page.context["cl"].filter_specs}
    return [choice[1] for choice in specs[title].lookup_choices]


@pytest.mark.parametrize("model", ["emailconnection", "emailtemplate", "oauthclient"])
def test_the_admin_business_service_filter_offers_only_the_users_services(
    client: Client, operator: Any, teams: dict, model: str
) -> None:
    client.force_login(operator)
    page = client.get(reverse(f"admin:connections_{model}_changelist"))
    assert filter_choices(page, "Member of Business Services") == ["Accounting"]
    assert "Marketing" not in text(page)


def test_the_admin_email_connection_filter_offers_only_visible_connections(
    client: Client, operator: Any, teams: dict
) -> None:
    client.force_login(operator)
    page = client.get(reverse("admin:connections_emailtemplate_changelist"))
    assert filter_choices(page, "Email Connection") == ["Ours", "Unassigned"]


def test_a_superusers_admin_filters_offer_everything(
    admin_client_logged: Client, teams: dict
) -> None:
    page = admin_client_logged.get(reverse("admin:connections_emailtemplate_changelist"))
    assert filter_choices(page, "Member of Business Services") == ["Accounting", "Marketing"]
    assert filter_choices(page, "Email Connection") == ["Ours", "Theirs", "Unassigned"]


@pytest.mark.parametrize(
    "path",
    [
        "abc/history/",
        "99999999999999999999999/history/",
        "{pk}/history/abc/",
        "{pk}/history/99999999999999999999999/",
        "{pk}/history/0/",
        "abc/history/1/",
        "%C2%B2/history/",
    ],
)
@pytest.mark.parametrize("as_superuser", [True, False])
def test_a_bad_id_in_an_admin_history_url_is_404(
    client: Client, admin_user: Any, operator: Any, path: str, as_superuser: bool
) -> None:
    operator.is_staff = True
    operator.save()
    client.force_login(admin_user if as_superuser else operator)
    connection = make_connection()
    url = "/admin/connections/emailconnection/" + path.format(pk=connection.pk)
    assert client.get(url).status_code == 404


@pytest.mark.parametrize(
    "model", ["emailconnection", "emailtemplate", "oauthclient", "businessservice"]
)
def test_an_admin_change_page_opens_read_only_for_a_viewer(
    client: Client, viewer: Any, model: str
) -> None:
    connection = make_connection(password="viewer-must-not-see")
    record = {
        "emailconnection": connection,
        "emailtemplate": make_template(connection),
        "oauthclient": make_oauth_client(secret="viewer-must-not-see"),
        "businessservice": make_service(),
    }[model]
    if model == "businessservice":
        records.save_record(record, None, m2m={"users": [viewer]})
    viewer.is_staff = True
    viewer.save()
    client.force_login(viewer)
    response = client.get(change_url(record))
    assert response.status_code == 200
    page = text(response)
    assert record.name in page
    assert 'name="_save"' not in page
    assert "expected_version" not in page
    assert "viewer-must-not-see" not in page


def test_a_viewer_cannot_save_from_the_admin(client: Client, viewer: Any) -> None:
    connection = make_connection()
    viewer.is_staff = True
    viewer.save()
    client.force_login(viewer)
    response = client.post(change_url(connection), {"name": "Renamed", "expected_version": "1"})
    assert response.status_code == 403
    connection.refresh_from_db()
    assert connection.name == "Mailer"


def test_the_admin_version_page_does_not_save_an_old_version(
    admin_client_logged: Client,
) -> None:
    connection = make_connection()
    connection.description = "v2"
    records.save_record(connection, None)
    first = connection.history.get(version=1)
    url = reverse(
        "admin:connections_emailconnection_simple_history", args=[connection.pk, first.history_id]
    )
    page = admin_client_logged.get(url)
    assert page.status_code == 200
    assert admin_client_logged.post(url, form_data(page, expected_version="2")).status_code == 403
    connection.refresh_from_db()
    assert (connection.version, connection.description) == (2, "v2")
    assert connection.has_secret("password")


@pytest.mark.parametrize("page", ["change", "delete"])
def test_an_empty_to_field_parameter_is_ignored(admin_client_logged: Client, page: str) -> None:
    connection = make_connection()
    url = reverse(f"admin:connections_emailconnection_{page}", args=[connection.pk])
    response = admin_client_logged.get(url, {"_to_field": ""})
    assert response.status_code == 200
    assert "Mailer" in text(response)
