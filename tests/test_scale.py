"""Lists at scale (issue 13): query budgets that do not grow with rows or versions, the list's
plan reading an index, the seed list a page at a time. Timings are bench/run.py's job."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection as db
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from connections import paging
from connections.models import BusinessService, EmailConnection
from connections.views import KINDS, RecordListView
from tests.factories import make_connection, make_service, text

pytestmark = pytest.mark.django_db

LIST = reverse("connections:emailconnection-list")
SEED = "/cam/api/v1/smtpconnections"


def bulk_connections(count: int, start: int = 0, **values: Any) -> list[EmailConnection]:
    """Rows through the bulk path, half with a stored password, half waiting for one."""
    stored = make_connection(name=f"Template row {start}").password_enc
    EmailConnection.objects.filter(name=f"Template row {start}").delete()
    return EmailConnection.objects.bulk_create(
        EmailConnection(
            name=f"Bulk {i:05}",
            smtp_server=f"smtp{i}.example.com",
            email_address=f"robot{i}@example.com",
            authentication="password",
            user_name=f"robot{i}",
            password_enc=stored if i % 2 else "",
            **values,
        )
        for i in range(start, start + count)
    )


@pytest.fixture
def scoped(client: Any, operator: Any) -> Any:
    """The operator, member of one Business Service, logged in."""
    service = make_service(name="Ops")
    service.users.add(operator)
    client.force_login(operator)
    return client


def list_queries(client: Any) -> int:
    with CaptureQueriesContext(db) as queries:
        response = client.get(LIST, {"per_page": "100"})
    assert response.status_code == 200
    return len(queries)


def test_a_scoped_operators_list_makes_as_many_queries_for_100_rows_as_for_5(scoped: Any) -> None:
    ops = BusinessService.objects.get(name="Ops")
    rows = bulk_connections(5)
    for row in rows[:3]:
        row.business_services.add(ops)
    few = list_queries(scoped)
    rows = bulk_connections(95, start=5)
    for row in rows[:40]:
        row.business_services.add(ops)
    assert list_queries(scoped) == few


def test_the_list_shows_a_missing_password_without_reading_any_ciphertext(scoped: Any) -> None:
    bulk_connections(4)
    response = scoped.get(LIST)
    listed = response.context["object_list"]
    assert all("password_enc" in row.get_deferred_fields() for row in listed)
    assert all("oauth_access_token_enc" in row.get_deferred_fields() for row in listed)
    assert text(response).count("Password needed") == 2


def test_a_scoped_operator_sees_unassigned_and_own_services_rows_once_each(scoped: Any) -> None:
    ops, other = BusinessService.objects.get(name="Ops"), make_service(name="Other")
    mine, theirs, both, nobodys = bulk_connections(4)
    mine.business_services.add(ops)
    theirs.business_services.add(other)
    both.business_services.add(ops, other)
    response = scoped.get(LIST)
    assert [r.name for r in response.context["object_list"]] == [
        mine.name,
        both.name,
        nobodys.name,
    ]
    assert response.context["paginator"].count == 3


def list_plan(user: Any, query: dict | None = None) -> str:
    request = RequestFactory().get(LIST, query or {})
    request.user = user
    view = RecordListView(kind=KINDS["emailconnection"])
    view.setup(request)
    return view.get_queryset()[:25].explain()


def sorts_the_rows(plan: str) -> bool:
    """SQLite sorts the list's rows themselves (a sort inside a row's subquery, such as its
    few Business Service names, is not that)."""
    for line in plan.splitlines():
        parts = line.split(" ", 3)
        if len(parts) == 4 and parts[1] == "0" and "TEMP B-TREE FOR ORDER BY" in parts[3]:
            return True
    return False


def test_the_default_sort_reads_the_name_index_for_superusers_and_scoped_operators(
    admin_user: Any, operator: Any
) -> None:
    make_service(name="Ops").users.add(operator)
    bulk_connections(3000)
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            cursor.execute("ANALYZE connections_emailconnection")
    for user in (admin_user, operator):
        plan = list_plan(user)
        assert "conn_name_sort" in plan, plan
        assert not sorts_the_rows(plan), plan


@pytest.mark.parametrize(
    ("sort", "index"),
    [
        ("server", "conn_server_sort"),
        ("-port", "conn_port_sort"),
        ("business_services", "conn_services_sort"),
        ("-last_test_at", "conn_test_at_sort"),
    ],
)
def test_the_computed_columns_sort_through_their_own_index(
    operator: Any, sort: str, index: str
) -> None:
    """Server and Port as the Type says, and the first Business Service: stored columns with
    an index, so a page at 100k reads 25 index entries instead of sorting every row."""
    make_service(name="Ops").users.add(operator)
    bulk_connections(3000)
    if db.vendor == "postgresql":
        with db.cursor() as cursor:
            cursor.execute("ANALYZE connections_emailconnection")
    plan = list_plan(operator, {"sort": sort})
    # PostgreSQL has a (column DESC NULLS LAST, id DESC) index for the nullable columns.
    assert index in plan or index.replace("_sort", "_desc") in plan, plan
    assert not sorts_the_rows(plan), plan
    assert "hashed SubPlan" not in plan, plan  # PostgreSQL: one probe per row read, no hash


@pytest.fixture
def small_bound(monkeypatch: Any) -> None:
    """Count exactly only up to 5 rows (and one page past the asked one)."""
    monkeypatch.setattr(paging, "EXACT_UP_TO", 5)
    monkeypatch.setattr(paging, "PAGES_AHEAD", 1)


def test_a_long_list_is_counted_up_to_a_bound_and_exactly_on_demand(
    scoped: Any, small_bound: None
) -> None:
    ops, other = BusinessService.objects.get(name="Ops"), make_service(name="Other")
    rows = bulk_connections(14)
    for row in rows[:9]:
        row.business_services.add(ops)
    for row in rows[9:12]:
        row.business_services.add(other)  # 2 unassigned + 9 of Ops = 11 visible
    response = scoped.get(LIST, {"per_page": "2"})
    page = text(response)
    assert "5+ in all" in page and "count all" in page and "page=last" in page
    exact = scoped.get(LIST, {"per_page": "2", "count": "all"})
    assert "11 in all · page 1 of 6" in text(exact)
    # Every page within reach exists; the one past the real end is a 404, as before.
    assert scoped.get(LIST, {"per_page": "2", "page": "6"}).status_code == 200
    assert scoped.get(LIST, {"per_page": "2", "page": "7"}).status_code == 404
    # The whole list page by page is the exact list, in order.
    walked = []
    for number in range(1, 7):
        walked += names_of(scoped.get(LIST, {"per_page": "2", "page": str(number)}))
    assert walked == names_of(scoped.get(LIST, {"per_page": "20", "count": "all"}))
    assert len(walked) == 11 and not {r.name for r in rows[9:12]} & set(walked)


@pytest.mark.parametrize("sort", ["name", "-name", "-last_test_at", "server", "business_services"])
def test_the_last_page_of_a_long_list_is_its_last_rows_in_order(
    scoped: Any, small_bound: None, sort: str
) -> None:
    ops = BusinessService.objects.get(name="Ops")
    rows = bulk_connections(9)
    for n, row in enumerate(rows):
        if n % 3:
            row.business_services.add(ops)
        if n % 2:
            EmailConnection.objects.filter(pk=row.pk).update(
                last_test_at=row.updated_at - timedelta(minutes=n)
            )
    whole = names_of(scoped.get(LIST, {"sort": sort, "per_page": "50", "count": "all"}))
    last = scoped.get(LIST, {"sort": sort, "per_page": "3", "page": "last"})
    assert last.status_code == 200
    assert names_of(last) == whole[-3:]
    assert "the last 3 of 5+" in text(last)


def names_of(response: Any) -> list[str]:
    assert response.status_code == 200
    return [r.name for r in response.context["object_list"]]


def test_the_business_services_sort_key_follows_every_membership_change(admin_user: Any) -> None:
    alpha, beta = make_service(name="Alpha"), make_service(name="Beta")
    record = make_connection(name="Member")

    def key() -> str | None:
        return EmailConnection.objects.get(pk=record.pk).services_sort

    assert key() is None
    record.business_services.add(beta)
    assert key() == "Beta"
    alpha.emailconnection_members.add(record)  # from the service's side
    assert key() == "Alpha"
    record.business_services.remove(alpha)
    assert key() == "Beta"
    beta.name = "Aardvark"
    beta.save()
    assert key() == "Aardvark"
    beta.emailconnection_members.clear()
    assert key() is None
    record.business_services.set([alpha, beta])
    assert key() == "Aardvark"
    beta.delete()
    assert key() == "Alpha"
    record.business_services.clear()
    assert key() is None
    # Nor is the key part of a version, an export or the API.
    assert "services_sort" not in record.history.model._meta.get_fields().__repr__()


def api_list_queries(api: Any, path: str = "/api/v1/connections/") -> int:
    with CaptureQueriesContext(db) as captured:
        response = api.get(path)
    assert response.status_code == 200
    return len(captured)


def test_the_api_list_makes_as_many_queries_for_300_rows_as_for_60(api: Any, operator: Any) -> None:
    ops = make_service(name="Ops")
    ops.users.add(operator)
    other = make_service(name="Other")
    for row in bulk_connections(60)[::2]:
        row.business_services.add(ops, other)
    few = api_list_queries(api)
    for row in bulk_connections(240, start=60)[::3]:
        row.business_services.add(other)
    assert api_list_queries(api) == few
    assert api_list_queries(api, "/api/v1/connections/?page=3") == few


def test_a_list_shorter_than_a_page_is_not_counted(api: Any) -> None:
    bulk_connections(51)
    full = api_list_queries(api)
    assert api_list_queries(api, "/api/v1/connections/?page=2") == full - 1
    body = api.get("/api/v1/connections/?page=2").json()
    assert (body["count"], body["count_is_exact"], body["next"]) == (51, True, None)


def test_the_api_list_rows_equal_the_single_record_answers(api: Any, operator: Any) -> None:
    service = make_service(name="Ops")
    service.users.add(operator)
    rows = bulk_connections(3)
    rows[0].business_services.add(service)
    listed = api.get("/api/v1/connections/").json()["results"]
    assert listed == [api.get(f"/api/v1/connections/{row.pk}/").json() for row in rows]
    assert "password" not in listed[0] and listed[0]["password_set"] is False


def add_versions(record: EmailConnection, count: int, services: list[BusinessService]) -> None:
    """`count` more versions through the bulk path, the Business Services alternating."""
    history = type(record).history.model
    latest = record.history.latest()
    snapshot = latest.business_services.model
    rows = []
    for i in range(count):
        row = history.objects.get(pk=latest.pk)
        row.history_id = None
        row.history_date = latest.history_date + timedelta(seconds=i + 1)
        row.version = latest.version + i + 1
        row.description = f"change {i}"
        rows.append(row)
    created = history.objects.bulk_create(rows)
    snapshot.objects.bulk_create(
        snapshot(
            id=i + 1, history=row, emailconnection_id=record.pk, businessservice=services[i % 2]
        )
        for i, row in enumerate(created)
    )


def history_page_queries(client: Any, record: EmailConnection) -> tuple[int, str]:
    url = f"/admin/connections/emailconnection/{record.pk}/history/"
    client.get(url)  # content types cached
    with CaptureQueriesContext(db) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), text(response)


def test_the_admin_history_page_makes_as_many_queries_for_1000_versions_as_for_10(
    admin_client_logged: Any, admin_user: Any
) -> None:
    services = [make_service(name="Ops"), make_service(name="Billing")]
    few, many = make_connection(name="Few"), make_connection(name="Many")
    add_versions(few, 9, services)
    add_versions(many, 999, services)
    few_queries, _ = history_page_queries(admin_client_logged, few)
    many_queries, page = history_page_queries(admin_client_logged, many)
    assert many_queries == few_queries
    # The Business Services that changed between versions are still told, by name.
    assert "Member of Business Services" in page
    assert "Billing" in page and "Ops" in page


def seed_names(response: Any) -> list[str]:
    return [c["name"] for c in response.json()]


def test_the_seed_list_comes_in_pages_of_100_by_default(api: Any) -> None:
    bulk_connections(130)
    first = api.get(SEED)
    assert first.status_code == 200
    assert len(first.json()) == 100
    assert first["X-Total-Count"] == "130"
    assert first["Link"] == f'<http://testserver{SEED}?offset=100&limit=100>; rel="next"'


def test_the_whole_seed_list_is_reached_page_by_page(api: Any) -> None:
    bulk_connections(25)
    incoming = make_connection(name="Reader", connection_type="incoming", imap_server="imap.x")
    seen, url = [], f"{SEED}?limit=10&ace_orgGuid=all"
    while url:
        response = api.get(url.removeprefix("http://testserver"))
        seen += seed_names(response)
        link = response.get("Link", "")
        url = link[1 : link.index(">")] if link else ""
    assert seen == sorted(f"Bulk {i:05}" for i in range(25))
    assert incoming.name not in seen


def test_limit_and_offset_choose_the_page(api: Any) -> None:
    bulk_connections(12)
    response = api.get(f"{SEED}?limit=5&offset=10")
    assert seed_names(response) == ["Bulk 00010", "Bulk 00011"]
    assert "Link" not in response
    assert response["X-Total-Count"] == "12"


@pytest.mark.parametrize(
    ("query", "name"),
    [
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("limit=-1", "limit"),
        ("offset=-5", "offset"),
        ("offset=1.5", "offset"),
        ("offset=99999999999999999999999", "offset"),
        ("limit=%00", "limit"),
    ],
)
def test_a_bad_limit_or_offset_is_a_400_naming_it(api: Any, query: str, name: str) -> None:
    response = api.get(f"{SEED}?{query}")
    assert response.status_code == 400
    body = response.json()
    assert list(body["errors"]) == [name]
