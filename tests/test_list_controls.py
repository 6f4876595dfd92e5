"""List controls and the record pages' dialogs, through the client as a browser would."""

import json
import re
from datetime import UTC, datetime

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from connections import records
from connections.models import EmailConnection
from tests.factories import make_connection, make_service, make_template, text

pytestmark = pytest.mark.django_db

LIST = reverse("connections:emailconnection-list")


def names(response: object) -> list[str]:
    return [r.name for r in response.context["object_list"]]


def incoming(name: str, port: int, server: str = "imap.example.com", **values: object) -> object:
    return make_connection(
        name=name, connection_type="incoming", imap_server=server, imap_port=port, **values
    )


def test_filters_offer_all_instead_of_dashes(admin_client_logged: object) -> None:
    page = text(admin_client_logged.get(LIST))
    assert "---------" not in page
    for name in ("connection_type", "authentication", "business_services"):
        select = re.search(rf'<select name="{name}".*?</select>', page, re.S).group(0)
        assert re.search(r'<option value=""[^>]*>All</option>', select)


def test_port_sorts_by_the_port_each_connection_uses(admin_client_logged: object) -> None:
    make_connection(name="Out 587", smtp_port=587)
    incoming("In 143", 143)
    make_connection(name="Out 25", smtp_port=25)
    incoming("In 993", 993)
    assert names(admin_client_logged.get(LIST, {"sort": "port"})) == [
        "Out 25",
        "In 143",
        "Out 587",
        "In 993",
    ]
    assert names(admin_client_logged.get(LIST, {"sort": "-port"})) == [
        "In 993",
        "Out 587",
        "In 143",
        "Out 25",
    ]


def test_server_sorts_by_the_server_each_connection_uses(admin_client_logged: object) -> None:
    make_connection(name="B", smtp_server="b.example.com")
    incoming("A", 143, server="a.example.com")
    make_connection(name="C", smtp_server="c.example.com")
    assert names(admin_client_logged.get(LIST, {"sort": "server"})) == ["A", "B", "C"]


def test_business_services_sort_by_name_unassigned_last_ties_by_creation(
    admin_client_logged: object,
) -> None:
    accounting, zoo = make_service(name="Accounting"), make_service(name="Zoo")
    make_connection(name="Plain 1")
    make_connection(name="Zoo only", services=[zoo])
    make_connection(name="Both", services=[zoo, accounting])
    make_connection(name="Plain 2")
    make_connection(name="Accounting only", services=[accounting])
    assert names(admin_client_logged.get(LIST, {"sort": "business_services"})) == [
        "Both",
        "Accounting only",
        "Zoo only",
        "Plain 1",
        "Plain 2",
    ]
    assert names(admin_client_logged.get(LIST, {"sort": "-business_services"})) == [
        "Zoo only",
        "Accounting only",
        "Both",
        "Plain 2",
        "Plain 1",
    ]


def test_every_column_header_sorts_and_no_sort_answers_500(
    admin_client_logged: object, operator: object, client: object
) -> None:
    service = make_service(name="Ops")
    make_connection(name="A", services=[service])
    incoming("B", 993)
    client.force_login(operator)
    for who in (admin_client_logged, client):
        page = text(who.get(LIST))
        for key in ("name", "server", "port", "business_services", "last_test_at"):
            assert re.search(f'sort=-?{key}"', page)
            for sort in (key, f"-{key}", f"--{key}", f"{key};--"):
                assert who.get(LIST, {"sort": sort}).status_code == 200


def test_pages_are_numbered_and_the_page_size_can_be_chosen(admin_client_logged: object) -> None:
    for i in range(23):
        make_connection(name=f"Mailer {i:02}")
    response = admin_client_logged.get(LIST, {"per_page": "10", "page": "2"})
    assert names(response)[0] == "Mailer 10"
    page = text(response)
    assert '<span class="page-link">2</span>' in page
    assert "per_page=10&page=1" in page
    assert "per_page=10&page=3" in page
    assert re.search(r'<option value="10" selected>10</option>', page)
    assert "23 in all · page 2 of 3" in page


@pytest.mark.parametrize("size", ["0", "-5", "abc", "100000", "1e3", ""])
def test_an_odd_page_size_is_clamped_never_an_error(admin_client_logged: object, size: str) -> None:
    make_connection()
    assert admin_client_logged.get(LIST, {"per_page": size}).status_code == 200


def test_list_and_detail_show_one_date_format_with_the_time_zone(
    admin_client_logged: object, settings: object
) -> None:
    settings.TIME_ZONE = "Europe/Berlin"
    connection = make_connection()
    EmailConnection.objects.filter(pk=connection.pk).update(
        updated_at=datetime(2026, 3, 4, 13, 5, tzinfo=UTC),
        last_test_at=datetime(2026, 3, 4, 14, 6, tzinfo=UTC),
        last_test_ok=True,
    )
    listed = text(admin_client_logged.get(LIST))
    detail = text(admin_client_logged.get(connection.get_absolute_url()))
    for page in (listed, detail):
        assert "2026-03-04 14:05 CET" in page
        assert "2026-03-04 15:06 CET" in page


def test_the_connection_list_shows_when_each_was_last_tested(admin_client_logged: object) -> None:
    connection = make_connection()
    EmailConnection.objects.filter(pk=connection.pk).update(
        last_test_at=datetime(2026, 5, 6, 7, 8, tzinfo=UTC), last_test_ok=False
    )
    response = admin_client_logged.get(LIST, {"sort": "-last_test_at"})
    page = text(response)
    assert "<th" in page and "Last Test" in page
    assert "2026-05-06 07:08 UTC" in page
    assert "Failing" in page


def test_the_list_makes_the_same_number_of_queries_for_3_and_30_rows(
    admin_client_logged: object,
) -> None:
    services = [make_service(name=f"S{i}") for i in range(3)]

    def count(rows: int) -> int:
        for i in range(rows - EmailConnection.objects.count()):
            make_connection(name=f"M{rows}-{i}", services=services[: i % 3 + 1])
        with CaptureQueriesContext(db) as queries:
            for sort in ("business_services", "port"):
                assert (
                    admin_client_logged.get(LIST, {"sort": sort, "per_page": 50}).status_code == 200
                )
        return len(queries)

    assert count(3) == count(30)


def test_an_empty_list_says_so_and_offers_new(admin_client_logged: object) -> None:
    page = text(admin_client_logged.get(LIST))
    assert "No email connections yet: create the first one." in page
    assert 'id="empty-state"' in page
    assert "New Email Connection</a>" in page


def test_a_search_that_matches_nothing_offers_to_clear_it(admin_client_logged: object) -> None:
    make_connection()
    page = text(admin_client_logged.get(LIST, {"q": "nothing like it"}))
    assert "No email connections match this search or these filters." in page
    assert "Clear the filters</a>" in page


def test_the_delete_dialog_names_what_uses_the_connection_and_offers_no_delete(
    admin_client_logged: object,
) -> None:
    connection = make_connection()
    make_template(connection, name="Invoice run")
    page = text(admin_client_logged.get(connection.get_absolute_url()))
    dialog = page.split('id="delete-modal"')[1].split("</form>")[0]
    assert 'Email Template "Invoice run"' in dialog
    assert 'type="submit"' not in dialog


def test_the_delete_dialog_of_an_unused_connection_offers_delete(
    admin_client_logged: object,
) -> None:
    connection = make_connection()
    page = text(admin_client_logged.get(connection.get_absolute_url()))
    dialog = page.split('id="delete-modal"')[1].split("</form>")[0]
    assert 'type="submit" class="btn btn-danger btn-sm">Delete<' in dialog


def test_the_copy_dialog_gets_a_refused_name_as_json_and_nothing_is_copied(
    admin_client_logged: object,
) -> None:
    connection = make_connection()
    url = reverse("connections:emailconnection-copy", args=[connection.pk])
    response = admin_client_logged.post(url, {"name": "MAILER"}, HTTP_ACCEPT="application/json")
    assert response.status_code == 400
    assert json.loads(response.content) == {"error": "Name must be unique."}
    blank = admin_client_logged.post(url, {"name": "  "}, HTTP_ACCEPT="application/json")
    assert json.loads(blank.content) == {"error": "Give the copy a name."}
    assert EmailConnection.objects.count() == 1
    made = admin_client_logged.post(url, {"name": "Mailer 2"}, HTTP_ACCEPT="application/json")
    copy = EmailConnection.objects.get(name="Mailer 2")
    assert json.loads(made.content) == {"url": copy.get_absolute_url()}


def test_member_of_business_services_is_a_list_of_checkboxes(
    client: object, operator: object
) -> None:
    mine, theirs = make_service(name="Mine"), make_service(name="Theirs")
    mine.users.add(operator)
    connection = make_connection(services=[mine, theirs])
    client.force_login(operator)
    page = text(client.get(connection.get_absolute_url()))
    boxes = re.findall(r'<input type="checkbox"[^>]*name="business_services"[^>]*>', page)
    assert len(boxes) == 1
    assert f'value="{mine.pk}"' in boxes[0] and "checked" in boxes[0]
    assert "Theirs" not in page.split('id="div_id_business_services"')[1].split("</fieldset>")[0]


def test_the_field_rules_require_what_the_server_requires(admin_client_logged: object) -> None:
    rules = EmailConnection.field_rules()
    assert rules["choices"]["authentication"]["incoming"] == ["password", "oauth2"]
    assert "none" in rules["choices"]["authentication"]["outgoing"]
    assert rules["required"]["outgoing|password"] == ["password", "smtp_server", "user_name"]
    assert rules["required"]["incoming|oauth2"] == ["imap_server", "oauth_client", "user_name"]
    assert rules["required"]["outgoing|none"] == ["smtp_server"]
    for key, required in rules["required"].items():
        t, a = key.split("|")
        probe = EmailConnection(connection_type=t, authentication=a, email_address="a@b.c")
        try:
            probe.clean()
            refused = set()
        except Exception as exc:
            refused = set(exc.message_dict)
        assert set(required) - {"password"} <= refused


def test_the_status_panel_shows_the_stored_last_test(admin_client_logged: object) -> None:
    connection = make_connection()
    records.save_state(
        connection,
        last_test_at=datetime(2026, 5, 6, 7, 8, tzinfo=UTC),
        last_test_ok=False,
        last_test_summary="auth: check the user name and password.",
    )
    page = text(admin_client_logged.get(connection.get_absolute_url()))
    panel = page.split('id="status-panel"')[1].split("</dl>")[0]
    assert 'data-status="failing"' in page
    assert "Failing" in panel
    assert "2026-05-06 07:08 UTC" in panel
    assert "check the user name and password" in panel


def test_the_delete_dialog_counts_but_never_names_what_the_operator_cannot_see(
    client: object, operator: object
) -> None:
    mine, theirs = make_service(name="Mine"), make_service(name="Theirs")
    mine.users.add(operator)
    connection = make_connection()
    make_template(connection, name="Our template", services=[mine])
    make_template(connection, name="Their template", services=[theirs])
    client.force_login(operator)
    page = text(client.get(connection.get_absolute_url()))
    dialog = page.split('id="delete-modal"')[1].split("</form>")[0]
    assert 'Email Template "Our template"' in dialog
    assert "1 record you cannot see" in dialog
    assert "Their template" not in page
    url = reverse("connections:emailconnection-delete", args=[connection.pk])
    refused = text(client.post(url, follow=True))
    assert "Our template" in refused and "1 record you cannot see" in refused
    assert "Their template" not in refused


def test_every_sortable_column_of_every_list_answers(admin_client_logged: object) -> None:
    from connections.views import KINDS

    service = make_service()
    connection = make_connection(services=[service])
    make_template(connection, services=[service])
    for kind in KINDS.values():
        url = kind.url("list")
        for column in kind.columns:
            if column.sort:
                for sort in (column.sort, f"-{column.sort}"):
                    response = admin_client_logged.get(url, {"sort": sort, "per_page": 10})
                    assert response.status_code == 200, (url, sort)


def test_no_list_filter_reads_dashes_or_unknown(admin_client_logged: object) -> None:
    from connections.views import KINDS

    for kind in KINDS.values():
        page = text(admin_client_logged.get(kind.url("list")))
        filters = page.split('id="list-filters"')[1].split("</form>")[0]
        assert "---------" not in filters, kind.name
        assert ">Unknown<" not in filters, kind.name
        for select in re.findall(r"<select.*?</select>", filters, re.S):
            assert re.search(r'<option value="(unknown)?"[^>]*>All</option>', select), select
