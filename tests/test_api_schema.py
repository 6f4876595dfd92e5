"""The API against its own OpenAPI schema: schemathesis with its default checks, in-process.

Test operations are left out: they would connect to whatever host the generated data
names (and so would a task's Run now, which queues the run on the worker). They are
covered by explicit tests against the loopback mail servers.
Every other operation is a test of its own (`-v` lists them, one id each), and
test_every_operation_is_a_test_of_its_own[<n> operations] says how many there are.
"""

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from oauth2_provider.models import AccessToken
from schemathesis.specs.openapi.checks import positive_data_acceptance

from config.wsgi import application
from tests.api_fixtures import in_an_hour, make_app

TASK_PATHS = ("/api/v1/email-tasks/", "/api/v1/email-monitor-tasks/")
EXAMPLES = int(os.environ.get("API_SCHEMA_EXAMPLES", "10"))
schema = schemathesis.openapi.from_wsgi("/api/schema/", application).exclude(
    path_regex=r"(/test/$|/testEmail|/run/$)"
)
OPERATIONS = [result.ok().label for result in schema.get_all_operations()]


@pytest.fixture
def token_header(admin_user: Any, scope: str) -> dict[str, str]:
    token = AccessToken.objects.create(
        application=make_app(admin_user),
        token="schemathesis-token",
        scope=scope,
        expires=in_an_hour(),
    )
    return {"Authorization": f"Bearer {token.token}"}


@pytest.fixture(autouse=True)
def no_connection_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    """No generated host name ever reaches a socket."""

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("schemathesis must not run connection tests")

    monkeypatch.setattr("connections.connection_test.run_test", refuse)


@pytest.mark.django_db(transaction=True)
# pytest 9 builds a schemathesis test's id from the function name alone, unless a parameter
# follows it: without one, every operation had the same id and pytest-xdist ran only one.
@pytest.mark.parametrize("scope", ["read write test"], ids=["all-scopes"])
@schema.parametrize()
# A quick pass by default; API_SCHEMA_EXAMPLES=200 digs deeper.
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_answers_as_its_schema_says(case: Any, token_header: dict[str, str]) -> None:
    # An import's records are checked against the database (references by name, the models'
    # rules), which no schema can say: there a valid-looking body may be refused (400). So
    # are a task's (the Type of its connection, its template's recipients, a cron expression).
    refusable = case.path == "/api/v1/import/" or case.path.startswith(TASK_PATHS)
    excluded = [positive_data_acceptance] if refusable else []
    case.call_and_validate(headers=token_header, excluded_checks=excluded)


@pytest.mark.parametrize("count", [len(OPERATIONS)], ids=lambda n: f"{n} operations")
def test_every_operation_is_a_test_of_its_own(request: pytest.FixtureRequest, count: int) -> None:
    module = request.node.getparent(pytest.Module)
    (collector,) = [
        node for node in module.collect() if node.name == "test_the_api_answers_as_its_schema_says"
    ]
    ids = [item.nodeid for item in collector.collect()]
    assert len(set(ids)) == len(ids) == count
    assert all(f"[{label}]" in test_id for label, test_id in zip(OPERATIONS, ids, strict=True))
