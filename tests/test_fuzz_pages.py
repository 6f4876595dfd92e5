"""Generated query strings and form bodies at every page, as a superuser and as a scoped
operator: whatever arrives, no answer is a 5xx.

A quick pass by default (PAGE_FUZZ_EXAMPLES examples per page and user); set it higher to
dig deeper, e.g. PAGE_FUZZ_EXAMPLES=200.
"""

import os
import re
import socket
from html import unescape
from typing import Any
from urllib.parse import quote, unquote, urlencode

import pytest
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connections import records, views
from connections.forms import FORMS
from connections.models import BusinessService, EmailMonitorTask, EmailTask, TaskRun
from tests.factories import make_connection, make_oauth_client, make_service, make_template, save

EXAMPLES = int(os.environ.get("PAGE_FUZZ_EXAMPLES", "4"))

KINDS = tuple(views.KINDS)  # every record type the pages serve, new ones included
RECORD_PAGES = [
    (kind, view)
    for kind in KINDS
    for view in (
        "list",
        "new",
        "detail",
        "versions",
        "compare",
        "version",
        "copy",
        "delete",
        "restore",
        "export",
        *(tab.url_name.removeprefix(f"{kind}-") for tab in views.KINDS[kind].tabs),
    )
]
ACTION_PAGES = [
    ("emailconnection", "test-new"),
    ("emailconnection", "test"),
    ("emailconnection", "authorize"),
    ("emailconnection", "disconnect"),
    ("emailtask", "run"),
    ("emailmonitortask", "run"),
    ("taskrun", "detail"),
    ("taskrun", "status"),
    ("site", "import"),
    ("site", "notification-settings"),
    ("site", "notification-log"),
    ("site", "oauth-callback"),
]
ADMIN_PAGES = [
    (kind, f"admin-{view}")
    for kind in KINDS
    for view in ("changelist", "add", "change", "history", "simple_history", "delete")
]
PAGES = RECORD_PAGES + ACTION_PAGES + ADMIN_PAGES

# Names the pages read besides their own inputs, so that generated values reach the code.
PARAMETERS = {
    *("page", "per_page", "sort", "q", "status", "provider", "v", "back", "recipient"),
    *("_save", "_save_new", "_save_view", "_continue", "_addanother", "post", "next"),
    *("o", "p", "e", "_changelist_filters", "_popup", "_to_field", "all"),
    *("business_services__id__exact", "connection__id__exact", "connection_type__exact"),
}
FORM_FIELDS = {name for form in FORMS.values() for name in form.base_fields}
INPUT_NAME = re.compile(r'name="([^"]+)"')
INPUT_VALUE = re.compile(r'value="([^"]*)"')
LINK_PARAMETER = re.compile(r"[?&;]([\w-]+)=([^&\"'#]*)")
# Odd values in general, and what is put around a page's own values to bend them.
ODD = ["", "0", "-1", "9" * 25, "1e3", "\x00", "on", "https://evil.example.com/", "//x"]
AFFIXES = ["", "", "-", "--", ",", " ", "+", "é", "\x00", "0", "[]", "%"]


def offered(html: str) -> dict[str, set[str]]:
    """The parameters a page offers (its inputs, its links'), each with the values seen."""
    html = unescape(html)
    found: dict[str, set[str]] = {name: set() for name in INPUT_NAME.findall(html)}
    for name, value in LINK_PARAMETER.findall(html):
        found.setdefault(name, set()).add(unquote(value))
    found[""] = set(INPUT_VALUE.findall(html))  # values whose name is not known
    return found


def fields(offers: dict[str, set[str]]) -> st.SearchStrategy[dict]:
    """Parameters the page knows (and some it does not), with their own values bent."""
    affix = st.sampled_from(AFFIXES)

    def value(name: str) -> st.SearchStrategy[str]:
        own = sorted(offers.get(name) or offers[""]) or ["1"]
        bent = st.builds(lambda a, v, b: a + v + b, affix, st.sampled_from(own), affix)
        return st.one_of(bent, st.sampled_from(ODD), st.text(max_size=30))

    def pair(name: str) -> st.SearchStrategy[tuple[str, Any]]:
        return st.tuples(st.just(name), st.one_of(value(name), st.lists(value(name), max_size=3)))

    names = st.one_of(st.sampled_from(sorted(set(offers) - {""})), st.text(min_size=1, max_size=12))
    return st.lists(names.flatmap(pair), max_size=6).map(dict)


# A query string as typed, not only as a form would encode it: stray %, &, = and non-ASCII.
RAW_QUERY = st.text(
    alphabet=st.one_of(st.sampled_from("%&=+;?#[]-_"), st.characters(codec="utf-8")),
    max_size=40,
).map(lambda raw: quote(raw, safe="%&=+;-_"))


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Test with generated settings must not reach any host: name lookups fail."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise socket.gaierror(socket.EAI_NONAME, "no name lookups in the page fuzz tests")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.fixture
def site(operator: Any) -> dict[str, Any]:
    """One record of each kind at version 2 in the operator's team; the operator is staff."""
    team = make_service(name="Team")
    records.save_record(BusinessService.objects.get(pk=team.pk), None, m2m={"users": [operator]})
    operator.is_staff = True
    operator.save()
    connection = make_connection(services=[team])
    mailbox = make_connection(
        name="Mailbox",
        connection_type="incoming",
        imap_server="127.0.0.1",
        imap_port=2143,
        services=[team],
    )
    template = make_template(connection, services=[team])
    task = save(EmailTask(name="Nightly", template=template), services=[team])
    stored = {
        "emailconnection": connection,
        "emailtemplate": template,
        "emailtask": task,
        "emailmonitortask": save(EmailMonitorTask(name="Watch", connection=mailbox)),
        "oauthclient": make_oauth_client(),
        "businessservice": BusinessService.objects.get(pk=team.pk),
    }
    for record in stored.values():
        if record.version == 1:
            record.description = "second version"
            records.save_record(record, None)
    stored["taskrun"] = TaskRun.objects.create(
        email_task=task, task_version=task.version, trigger="user"
    )
    stored["site"] = None
    assert set(KINDS) <= set(stored), "a new record type needs a record here"
    return stored


def page_url(kind: str, view: str, record: Any) -> str:
    if view.startswith("admin-"):
        view = view.removeprefix("admin-")
        args = {
            "changelist": [],
            "add": [],
            "simple_history": [record.pk, record.history.latest().history_id],
        }.get(view, [record.pk])
        return reverse(f"admin:connections_{kind}_{view}", args=args)
    if kind == "site":
        return reverse(f"connections:{view}")
    args = {
        "list": [],
        "new": [],
        "export": [],
        "test-new": [],
        "version": [record.pk, 1],
        "restore": [record.pk, 1],
    }.get(view, [record.pk])
    return reverse(f"connections:{kind}-{view}", args=args)


@pytest.mark.django_db
@pytest.mark.parametrize("user", ["admin_user", "operator"])
@pytest.mark.parametrize(("kind", "view"), PAGES, ids=[f"{k}-{v}" for k, v in PAGES])
def test_no_page_answers_a_5xx_to_generated_requests(
    request: pytest.FixtureRequest, site: dict, kind: str, view: str, user: str
) -> None:
    client = Client()
    client.force_login(request.getfixturevalue(user))
    url = page_url(kind, view, site[kind])
    offers = offered(client.get(url, follow=True).content.decode())
    for name in PARAMETERS | (set() if len(offers) > 1 else FORM_FIELDS):
        offers.setdefault(name, set())
    offers[""] |= {"1", "2", "name", "outgoing", "password", "oauth2", "a@example.com"}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(
        method=st.sampled_from(["get", "post"]),
        query=st.one_of(fields(offers), RAW_QUERY),
        body=fields(offers),
    )
    def answers_without_a_5xx(method: str, query: dict | str, body: dict) -> None:
        if isinstance(query, str):
            response = getattr(client, method)(f"{url}?{query}", body if method == "post" else None)
        else:
            target = f"{url}?{urlencode(query, doseq=True)}" if method == "post" else url
            response = getattr(client, method)(target, body if method == "post" else query)
        assert response.status_code < 500, (method, url, query, body)

    answers_without_a_5xx()
