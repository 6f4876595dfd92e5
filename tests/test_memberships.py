"""Memberships in Business Services the actor cannot see are never changed by the actor:
one rule in the save path, whoever saves (page, admin, /api/v1/, Restore)."""

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from connections import records, versions
from connections.models import BusinessService, EmailConnection
from tests.factories import make_connection, make_service, make_template

pytestmark = pytest.mark.django_db


@pytest.fixture
def teams(operator: Any) -> dict:
    """The operator is in Accounting (through a group); Marketing is another team's."""
    accounting, marketing = make_service(name="Accounting"), make_service(name="Marketing")
    group = Group.objects.create(name="Accountants")
    operator.groups.add(group)
    records.save_record(
        BusinessService.objects.get(pk=accounting.pk), None, m2m={"groups": [group]}
    )
    shared = make_connection(name="Shared", services=[accounting, marketing])
    return {"accounting": accounting, "marketing": marketing, "shared": shared}


def services_of(connection: EmailConnection) -> set[str]:
    return set(connection.business_services.values_list("name", flat=True))


def test_an_api_patch_keeps_the_other_teams_membership(api: Any, teams: dict) -> None:
    shared = teams["shared"]
    response = api.patch(
        f"/api/v1/connections/{shared.pk}/", {"business_services": [teams["accounting"].pk]}
    )
    assert response.status_code == 200, response.content
    assert services_of(shared) == {"Accounting", "Marketing"}


def test_an_api_patch_emptying_the_memberships_does_not_unassign_the_record(
    api: Any, teams: dict
) -> None:
    shared = teams["shared"]
    response = api.patch(f"/api/v1/connections/{shared.pk}/", {"business_services": []})
    assert response.status_code == 200, response.content
    assert services_of(shared) == {"Marketing"}


def test_a_restore_keeps_memberships_added_since_by_another_team(
    operator: Any, admin_user: Any, teams: dict
) -> None:
    record = make_connection(name="Ours", smtp_port=2600, services=[teams["accounting"]])
    record.description = "version 2"
    records.save_record(record, operator)
    # the other team joins it (version 3)
    records.save_record(
        EmailConnection.objects.get(pk=record.pk),
        admin_user,
        m2m={"business_services": [teams["accounting"], teams["marketing"]]},
    )
    versions.restore(EmailConnection.objects.get(pk=record.pk), 1, operator)
    assert services_of(record) == {"Accounting", "Marketing"}


def test_a_restore_does_not_add_back_a_membership_the_actor_cannot_see(
    operator: Any, admin_user: Any, teams: dict
) -> None:
    shared = teams["shared"]  # version 1: Accounting and Marketing
    records.save_record(
        EmailConnection.objects.get(pk=shared.pk),
        admin_user,
        m2m={"business_services": [teams["accounting"]]},
    )
    versions.restore(EmailConnection.objects.get(pk=shared.pk), 1, operator)
    assert services_of(shared) == {"Accounting"}


def test_the_admin_keeps_the_other_teams_membership(
    client: Any, operator: Any, teams: dict
) -> None:
    operator.is_staff = True
    operator.save()
    client.force_login(operator)
    shared = teams["shared"]
    data = {
        "name": "Shared",
        "description": "edited in the admin",
        "business_services": [str(teams["accounting"].pk)],
        "connection_type": "outgoing",
        "smtp_server": shared.smtp_server,
        "smtp_port": str(shared.smtp_port),
        "imap_port": "143",
        "email_address": shared.email_address,
        "authentication": "password",
        "user_name": shared.user_name,
        "expected_version": str(shared.version),
    }
    url = reverse("admin:connections_emailconnection_change", args=[shared.pk])
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    shared.refresh_from_db()
    assert shared.description == "edited in the admin"
    assert services_of(shared) == {"Accounting", "Marketing"}


def test_an_api_delete_refusal_names_only_what_the_caller_may_see(api: Any, teams: dict) -> None:
    unassigned = make_connection(name="Unassigned", smtp_port=2900)
    make_template(unassigned, name="Marketing newsletter", services=[teams["marketing"]])
    response = api.delete(f"/api/v1/connections/{unassigned.pk}/")
    assert response.status_code == 409
    assert response.json()["errors"]["used_by"] == ["1 record you cannot see"]
    assert "Marketing newsletter" not in response.content.decode()
