"""Business Service scoping: a user sees and changes only unassigned records or their teams'."""

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from connections import records
from connections.models import BusinessService, EmailConnection
from tests.factories import connection_form, make_connection, make_service, make_template, text

pytestmark = pytest.mark.django_db


@pytest.fixture
def teams(operator: object) -> dict:
    """The operator is in Accounting through a group; Marketing is another team's."""
    accounting, marketing = make_service(name="Accounting"), make_service(name="Marketing")
    group = Group.objects.create(name="Accountants")
    operator.groups.add(group)
    records.save_record(
        BusinessService.objects.get(pk=accounting.pk), None, m2m={"groups": [group]}
    )
    return {
        "accounting": accounting,
        "marketing": marketing,
        "ours": make_connection(name="Ours", services=[accounting]),
        "theirs": make_connection(name="Theirs", smtp_port=2600, services=[marketing]),
        "shared": make_connection(name="Unassigned", smtp_port=2700),
    }


@pytest.fixture
def operator_client(client: object, operator: object) -> object:
    client.force_login(operator)
    return client


def test_the_list_shows_only_own_and_unassigned_records(
    operator_client: object, teams: dict
) -> None:
    page = text(operator_client.get(reverse("connections:emailconnection-list")))
    assert "Ours" in page
    assert "Unassigned" in page
    assert "Theirs" not in page


@pytest.mark.parametrize("name", ["detail", "versions", "templates"])
def test_another_teams_record_is_not_found(operator_client: object, teams: dict, name: str) -> None:
    url = reverse(f"connections:emailconnection-{name}", args=[teams["theirs"].pk])
    assert operator_client.get(url).status_code == 404


@pytest.mark.parametrize("action", ["copy", "delete", "detail"])
def test_another_teams_record_cannot_be_changed(
    operator_client: object, teams: dict, action: str
) -> None:
    url = reverse(f"connections:emailconnection-{action}", args=[teams["theirs"].pk])
    response = operator_client.post(url, connection_form(name="Taken over"))
    assert response.status_code == 404
    assert EmailConnection.objects.filter(name="Theirs").exists()


def test_the_templates_tab_hides_another_teams_templates(
    operator_client: object, teams: dict
) -> None:
    make_template(teams["shared"], name="Our template", services=[teams["accounting"]])
    make_template(teams["shared"], name="Their template", services=[teams["marketing"]])
    url = reverse("connections:emailconnection-templates", args=[teams["shared"].pk])
    page = text(operator_client.get(url))
    assert "Our template" in page
    assert "Their template" not in page


def test_only_own_business_services_can_be_chosen(operator_client: object, teams: dict) -> None:
    response = operator_client.get(reverse("connections:emailconnection-new"))
    offered = list(response.context["form"].fields["business_services"].queryset)
    assert offered == [teams["accounting"]]
    response = operator_client.post(
        reverse("connections:emailconnection-new"),
        connection_form(business_services=[teams["marketing"].pk]),
    )
    assert response.context["form"].errors["business_services"]
    assert not EmailConnection.objects.filter(name="Invoices").exists()


def test_the_business_service_list_shows_only_own_services(
    operator_client: object, teams: dict
) -> None:
    page = text(operator_client.get(reverse("connections:businessservice-list")))
    assert "Accounting" in page
    assert "Marketing" not in page


def test_an_update_keeps_memberships_the_editor_cannot_see(
    operator_client: object, teams: dict
) -> None:
    both = make_connection(
        name="Both", smtp_port=2800, services=[teams["accounting"], teams["marketing"]]
    )
    data = connection_form(
        name="Both",
        smtp_server="127.0.0.1",
        smtp_port="2800",
        user_name="alice",
        password="",
        description="edited",
        business_services=[teams["accounting"].pk],
        expected_version="1",
    )
    operator_client.post(both.get_absolute_url(), data)
    both.refresh_from_db()
    assert both.description == "edited"
    assert set(both.business_services.all()) == {teams["accounting"], teams["marketing"]}


def test_a_user_in_no_service_sees_only_unassigned_records(
    client: object, viewer: object, teams: dict
) -> None:
    client.force_login(viewer)
    page = text(client.get(reverse("connections:emailconnection-list")))
    assert "Unassigned" in page
    assert "Ours" not in page
    assert "Theirs" not in page


def test_the_admin_hides_another_teams_records(
    client: object, operator: object, teams: dict
) -> None:
    operator.is_staff = True
    operator.save()
    client.force_login(operator)
    page = text(client.get(reverse("admin:connections_emailconnection_changelist")))
    assert "Ours" in page
    assert "Theirs" not in page
    change = reverse("admin:connections_emailconnection_change", args=[teams["theirs"].pk])
    response = client.get(change, follow=True)
    assert "Theirs" not in text(response)
    assert "exist" in text(response)
    history = reverse("admin:connections_emailconnection_history", args=[teams["theirs"].pk])
    assert client.get(history).status_code == 404
    row = teams["theirs"].history.get()
    version = reverse(
        "admin:connections_emailconnection_simple_history",
        args=[teams["theirs"].pk, row.history_id],
    )
    assert client.get(version).status_code == 404


def test_a_superuser_sees_every_team(admin_client_logged: object, teams: dict) -> None:
    page = text(admin_client_logged.get(reverse("connections:emailconnection-list")))
    assert "Ours" in page
    assert "Theirs" in page
