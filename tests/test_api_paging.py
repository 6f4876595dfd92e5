"""API list pages: a bounded count (count_is_exact), next links, the last page, count=all,
and list rows read as values equal to the single record's answer."""

from datetime import UTC, datetime
from typing import Any

import pytest

from connections import paging, records
from connections.api.pagination import Pagination
from connections.models import EmailConnection
from tests.factories import make_connection, make_oauth_client, make_service

pytestmark = pytest.mark.django_db

CONNECTIONS = "/api/v1/connections/"


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of 2 rows, counted up to 4 rows or two pages past the page asked for."""
    monkeypatch.setattr(Pagination, "page_size", 2)
    monkeypatch.setattr(paging, "EXACT_UP_TO", 4)
    monkeypatch.setattr(paging, "PAGES_AHEAD", 2)


def rows(count: int, start: int = 0, services: list | None = None) -> list[EmailConnection]:
    made = EmailConnection.objects.bulk_create(
        EmailConnection(
            name=f"Row {i:03}",
            smtp_server=f"smtp{i}.example.com",
            email_address=f"robot{i}@example.com",
            authentication="none",
        )
        for i in range(start, start + count)
    )
    for row in made:
        row.business_services.set(services or [])
    return made


def page(api: Any, query: str = "") -> dict[str, Any]:
    response = api.get(f"{CONNECTIONS}{query}")
    assert response.status_code == 200, response.content
    return response.json()


def summary(body: dict[str, Any]) -> tuple:
    return (
        body["count"],
        body["count_is_exact"],
        body["next"] is not None,
        [r["name"] for r in body["results"]],
    )


def test_beyond_the_bound_the_count_is_the_bound_and_not_exact(api: Any, small_pages: None) -> None:
    rows(12)
    body = page(api)
    assert summary(body) == (4, False, True, ["Row 000", "Row 001"])
    assert body["next"].endswith("/api/v1/connections/?page=2")
    assert list(body) == ["count", "count_is_exact", "next", "previous", "results"]


def test_the_bound_follows_the_page_asked_for(api: Any, small_pages: None) -> None:
    rows(12)
    # page 3 starts at row 4: counted up to two pages past it, 8 rows
    assert summary(page(api, "?page=3")) == (8, False, True, ["Row 004", "Row 005"])


def test_the_last_real_page_is_exact_and_has_no_next(api: Any, small_pages: None) -> None:
    rows(12)
    body = page(api, "?page=6")
    assert summary(body) == (12, True, False, ["Row 010", "Row 011"])
    assert body["previous"].endswith("?page=5")


def test_a_page_past_the_end_is_a_404(api: Any, small_pages: None) -> None:
    rows(12)
    assert api.get(f"{CONNECTIONS}?page=7").status_code == 404
    assert api.get(f"{CONNECTIONS}?page=99999999999999999999").status_code == 404


def test_an_empty_list_is_a_first_page_with_no_rows(api: Any, small_pages: None) -> None:
    assert summary(page(api)) == (0, True, False, [])
    assert api.get(f"{CONNECTIONS}?page=2").status_code == 404


def test_count_all_counts_every_row(api: Any, small_pages: None) -> None:
    rows(12)
    body = page(api, "?count=all")
    assert summary(body) == (12, True, True, ["Row 000", "Row 001"])
    assert "count=all" in body["next"]


@pytest.mark.parametrize("query", ["?count=", "?count=exact", "?count=ALL"])
def test_any_other_count_is_a_400_naming_it(api: Any, query: str) -> None:
    response = api.get(f"{CONNECTIONS}{query}")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["count"]


def test_a_scoped_token_never_counts_rows_it_may_not_see(
    api: Any, operator: Any, small_pages: None
) -> None:
    ops, other = make_service(name="Ops"), make_service(name="Other")
    ops.users.add(operator)
    rows(6, services=[other])  # Row 000-005: not the operator's
    rows(3, start=6, services=[ops])
    rows(2, start=9, services=[ops, other])
    rows(3, start=11)  # unassigned
    visible = [f"Row {i:03}" for i in range(6, 14)]
    assert summary(page(api, "?count=all"))[:2] == (8, True)
    assert summary(page(api))[:3] == (4, False, True)
    seen, query = [], ""
    while True:
        body = page(api, query)
        seen += [r["name"] for r in body["results"]]
        if body["next"] is None:
            break
        query = body["next"][body["next"].index("?") :]
    assert seen == visible
    assert summary(body)[:2] == (8, True)


def test_filters_are_counted_too(api: Any, small_pages: None) -> None:
    rows(12)
    EmailConnection.objects.filter(name__in=["Row 003", "Row 007", "Row 008"]).update(
        connection_type="incoming", imap_server="imap.example.com"
    )
    body = page(api, "?connection_type=incoming&page=2")
    assert summary(body) == (3, True, False, ["Row 008"])


def test_the_list_rows_are_the_single_record_answers(
    api: Any, operator: Any, admin_user: Any
) -> None:
    """Rows read as values (listing.py) equal the detail serializer's output, field by field."""
    ops, billing = make_service(name="Ops"), make_service(name="Billing")
    ops.users.add(operator)
    client = make_oauth_client(name="Entra", scopes="offline_access SMTP.Send IMAP.Access")
    made = [
        make_connection(admin_user, name="Plain", services=[ops, billing], description="é ü"),
        make_connection(
            operator,
            name="OAuth",
            authentication="oauth2",
            oauth_client=client,
            password="",
            services=[billing, ops],
        ),
        make_connection(
            name="Mailbox",
            connection_type="incoming",
            smtp_server="",
            imap_server="imap.example.com",
            imap_port=993,
            enable_ssl=True,
            user_name="box",
            health_check="15",
            notify_addresses="a@example.com, b@example.com",
        ),
        make_connection(name="No password", password=""),
    ]
    EmailConnection.objects.filter(name="No password").update(password_enc="")
    records.save_state(
        made[1],
        oauth_authorized=True,
        oauth_account="robot@example.com",
        oauth_scopes="SMTP.Send",
        oauth_expires_at=datetime(2030, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
        oauth_needs_reauth=True,
        last_test_ok=False,
        last_test_at=datetime(2029, 5, 6, 7, 8, 9, tzinfo=UTC),
        last_test_summary="Refused",
    )
    records.save_state(made[2], last_test_ok=True, last_test_at=datetime(2029, 1, 1, tzinfo=UTC))
    listed = page(api)["results"]
    assert [r["name"] for r in listed] == ["Mailbox", "No password", "OAuth", "Plain"]
    for row in listed:
        assert row == api.get(f"{CONNECTIONS}{row['id']}/").json()
    by_name = {r["name"]: r for r in listed}
    assert by_name["Plain"]["business_services"] == [billing.pk, ops.pk]  # by service name
    assert by_name["Plain"]["created_by"] == admin_user.username
    assert by_name["OAuth"]["status"] == "reauthorize"
    assert by_name["OAuth"]["oauth_missing_scopes"] == ["IMAP.Access"]
    assert by_name["OAuth"]["oauth_expires_at"] == "2030-01-02T03:04:05.123456Z"
    assert [by_name[n]["password_set"] for n in ("Plain", "No password")] == [True, False]
    assert by_name["Mailbox"]["status"] == "ok"
