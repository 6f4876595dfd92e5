"""The API against its own OpenAPI schema: schemathesis with its default checks, in-process.

Test operations are left out: they would connect to whatever host the generated data
names. They are covered by explicit tests against the loopback mail servers.
"""

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from oauth2_provider.models import AccessToken

from config.wsgi import application
from tests.api_fixtures import in_an_hour, make_app

EXAMPLES = int(os.environ.get("API_SCHEMA_EXAMPLES", "10"))
schema = schemathesis.openapi.from_wsgi("/api/schema/", application).exclude(
    path_regex=r"(/test/$|/testEmail)"
)


@pytest.fixture
def token_header(admin_user: Any) -> dict[str, str]:
    token = AccessToken.objects.create(
        application=make_app(admin_user),
        token="schemathesis-token",
        scope="read write test",
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
@schema.parametrize()
# A quick pass by default; API_SCHEMA_EXAMPLES=200 digs deeper.
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_the_api_answers_as_its_schema_says(case: Any, token_header: dict[str, str]) -> None:
    case.call_and_validate(headers=token_header)
