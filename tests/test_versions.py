import pytest
from django.core.management import call_command
from django.urls import reverse

from connections import records
from connections.models import EmailConnection
from tests.factories import connection_form, make_connection, make_service, text

pytestmark = pytest.mark.django_db


def url(name: str, *args: object) -> str:
    return reverse(f"connections:emailconnection-{name}", args=args)


def update(connection: EmailConnection, user: object, **values: object) -> EmailConnection:
    connection = EmailConnection.objects.get(pk=connection.pk)
    password = values.pop("password", "")
    for name, value in values.items():
        setattr(connection, name, value)
    connection.set_secret("password", password)
    connection.full_clean()
    records.save_record(connection, user)
    return connection


@pytest.fixture
def three_versions(admin_user: object) -> EmailConnection:
    """Version 1: port 2525, password "first"; 2: port 2600; 3: port 2700, password "third"."""
    connection = make_connection(admin_user, password="first")
    update(connection, admin_user, smtp_port=2600, description="second", password="first")
    return update(connection, admin_user, smtp_port=2700, password="third")


def test_versions_are_listed_newest_first_with_user_and_changed_fields(
    admin_client_logged: object, three_versions: EmailConnection
) -> None:
    response = admin_client_logged.get(url("versions", three_versions.pk))
    rows = response.context["versions"]
    assert [v.number for v in rows] == [3, 2, 1]
    assert [str(v.user) for v in rows] == ["admin", "admin", "admin"]
    assert rows[0].changed == ["SMTP Port", "Password"]
    assert rows[1].changed == ["Description", "SMTP Port"]


def test_a_password_change_shows_as_changed_without_a_value(
    admin_client_logged: object, three_versions: EmailConnection
) -> None:
    page = text(admin_client_logged.get(url("compare", three_versions.pk), {"v": ["2", "3"]}))
    assert "third" not in page
    assert "first" not in page
    compared = {
        f.label: f
        for f in admin_client_logged.get(
            url("compare", three_versions.pk), {"v": ["2", "3"]}
        ).context["fields"]
    }
    assert compared["Password"].changed
    assert compared["Password"].right == "set"
    assert compared["Password"].left == "set"
    assert compared["SMTP Port"].left == 2600
    assert compared["SMTP Port"].right == 2700
    assert not compared["Name"].changed


def test_any_version_opens_read_only(
    admin_client_logged: object, three_versions: EmailConnection
) -> None:
    response = admin_client_logged.get(url("version", three_versions.pk, 1))
    fields = dict(response.context["fields"])
    assert fields["SMTP Port"] == 2525
    assert fields["Password"] == "set"
    table = text(response).split('id="version-fields"')[1].split("</table>")[0]
    assert "<input" not in table


def test_compare_needs_two_versions(
    admin_client_logged: object, three_versions: EmailConnection
) -> None:
    response = admin_client_logged.get(url("compare", three_versions.pk), {"v": "2"}, follow=True)
    assert "Select two versions to compare." in text(response)


def test_restoring_version_1_of_three_makes_version_4_with_the_password_typed(
    admin_client_logged: object, three_versions: EmailConnection
) -> None:
    # version 1 uses another port: the stored password may only go there when typed again
    response = admin_client_logged.post(
        url("restore", three_versions.pk, 1), {"password": "retyped"}, follow=True
    )
    assert "restored as version 4" in text(response)
    restored = EmailConnection.objects.get(pk=three_versions.pk)
    assert restored.version == 4
    assert restored.smtp_port == 2525
    assert restored.description == ""
    assert restored.get_secret("password") == "retyped"
    latest = restored.history.latest()
    assert latest.history_change_reason == "Restored version 1"
    assert latest.history_user.username == "admin"


def test_restoring_another_port_without_the_password_is_refused_and_keeps_it(
    admin_client_logged: object, three_versions: EmailConnection
) -> None:
    response = admin_client_logged.post(url("restore", three_versions.pk, 1), follow=True)
    assert "type the password again" in text(response)
    current = EmailConnection.objects.get(pk=three_versions.pk)
    assert (current.version, current.smtp_port) == (3, 2700)
    assert current.get_secret("password") == "third"


def test_a_restore_does_not_restore_oauth_tokens(admin_user: object) -> None:
    from connections import versions

    connection = make_connection(admin_user, password="pw")
    # (a version with another endpoint would forget the tokens: tests/test_secret_binding.py)
    update(connection, admin_user, description="second")
    records.save_state(connection, oauth_access_token_enc="", oauth_authorized=False)
    connection.refresh_from_db()
    connection.set_secret("oauth_access_token", "token-now")
    records.save_state(
        connection, oauth_access_token_enc=connection.oauth_access_token_enc, oauth_authorized=True
    )
    versions.restore(EmailConnection.objects.get(pk=connection.pk), 1, admin_user)
    connection.refresh_from_db()
    assert connection.get_secret("oauth_access_token") == "token-now"
    assert connection.oauth_authorized
    assert connection.description == ""


def test_a_restore_whose_name_clashes_says_so(
    admin_client_logged: object, admin_user: object
) -> None:
    connection = make_connection(admin_user, name="Alpha")
    update(connection, admin_user, name="Beta")
    make_connection(admin_user, name="Alpha", smtp_port=2700)
    response = admin_client_logged.post(url("restore", connection.pk, 1), follow=True)
    assert "Version 1 cannot be restored: Name: Name must be unique." in text(response)
    assert EmailConnection.objects.get(pk=connection.pk).version == 2


def test_restore_needs_its_own_permission(
    client: object, operator: object, three_versions: EmailConnection
) -> None:
    operator.user_permissions.remove(
        *operator.user_permissions.filter(codename="restore_emailconnection")
    )
    client.force_login(operator)
    assert client.post(url("restore", three_versions.pk, 1)).status_code == 403
    page = text(client.get(url("versions", three_versions.pk)))
    assert ">Restore<" not in page
    assert EmailConnection.objects.get(pk=three_versions.pk).version == 3


def test_an_update_with_nothing_changed_says_so_and_makes_no_version(
    admin_client_logged: object, admin_user: object
) -> None:
    connection = make_connection(admin_user)
    data = connection_form(
        name="Mailer",
        smtp_server="127.0.0.1",
        smtp_port="2525",
        enable_starttls=None,
        email_address="robot@example.com",
        user_name="alice",
        password="",
        expected_version="1",
    )
    response = admin_client_logged.post(connection.get_absolute_url(), data, follow=True)
    assert 'No changes: Email Connection "Mailer" not updated.' in text(response)
    assert connection.history.count() == 1
    assert EmailConnection.objects.get().version == 1


def test_a_stale_update_is_refused_and_the_first_writers_value_stays(
    admin_client_logged: object, admin_user: object
) -> None:
    connection = make_connection(admin_user)
    update(connection, admin_user, description="first writer")
    data = connection_form(
        name="Mailer",
        smtp_server="127.0.0.1",
        smtp_port="2525",
        user_name="alice",
        password="",
        description="second writer",
        expected_version="1",
    )
    response = admin_client_logged.post(connection.get_absolute_url(), data)
    page = text(response)
    assert "since you opened it" in page
    assert "Compare version 1 with version 2" in page
    assert url("compare", connection.pk) + "?v=1&v=2" in page
    assert response.context["form"]["description"].value() == "second writer"
    stored = EmailConnection.objects.get()
    assert stored.description == "first writer"
    assert stored.version == 2


def test_two_saves_from_the_same_version_cannot_both_win(admin_user: object) -> None:
    first = EmailConnection.objects.get(pk=make_connection(admin_user).pk)
    second = EmailConnection.objects.get(pk=first.pk)
    first.description = "one"
    records.save_record(first, admin_user, expected_version=1)
    second.description = "two"
    with pytest.raises(records.StaleRecord):
        records.save_record(second, admin_user, expected_version=1)
    assert EmailConnection.objects.get().description == "one"


def test_a_business_service_change_is_a_version(admin_user: object) -> None:
    from connections import versions

    service = make_service(admin_user)
    connection = make_connection(admin_user)
    records.save_record(
        EmailConnection.objects.get(pk=connection.pk),
        admin_user,
        m2m={"business_services": [service]},
    )
    page = versions.versions_page(connection, 1)
    assert page.object_list[0].changed == ["Member of Business Services"]


@pytest.mark.parametrize("count", [5, 60])
def test_the_versions_tab_query_count_does_not_grow_with_versions(
    admin_client_logged: object,
    admin_user: object,
    django_assert_max_num_queries: object,
    count: int,
) -> None:
    service = make_service(admin_user)
    connection = make_connection(admin_user, services=[service])
    for i in range(count):
        update(connection, admin_user, description=f"change {i}")
    with django_assert_max_num_queries(14):
        response = admin_client_logged.get(url("versions", connection.pk))
    assert len(response.context["versions"]) == min(count + 1, 25)


def test_a_thousand_versions_are_paginated(admin_client_logged: object, admin_user: object) -> None:
    connection = make_connection(admin_user)
    history = connection.history.model
    base = history.objects.values().get()
    base.pop("history_id")
    history.objects.bulk_create(
        history(**{**base, "version": n, "history_type": "~"}) for n in range(2, 1001)
    )
    response = admin_client_logged.get(url("versions", connection.pk), {"page": 40})
    assert response.context["versions"][0].number == 25
    assert response.context["page_obj"].paginator.num_pages == 40


def test_purge_versions_keeps_the_newest_and_logs_what_it_removed(
    admin_user: object, capsys: object
) -> None:
    connection = make_connection(admin_user)
    for i in range(4):
        update(connection, admin_user, description=str(i))
    call_command("purge_versions", keep=2)
    out = capsys.readouterr().out
    assert "removed 3 versions (1..3), kept the newest 2" in out
    assert sorted(connection.history.values_list("version", flat=True)) == [4, 5]


def test_purge_versions_dry_run_removes_nothing(admin_user: object, capsys: object) -> None:
    connection = make_connection(admin_user)
    update(connection, admin_user, description="x")
    call_command("purge_versions", keep=1, dry_run=True)
    assert "would remove 1 versions" in capsys.readouterr().out
    assert connection.history.count() == 2


def test_a_management_command_change_names_its_user(admin_user: object) -> None:
    call_command("demo_data", password="x-demo-pass-1")
    rows = EmailConnection.history.model.objects.all()
    assert rows.exists()
    assert not rows.filter(history_user=None).exists()
