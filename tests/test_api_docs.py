"""The OpenAPI schema and its documentation page, which works without internet access."""

from typing import Any

import pytest

pytestmark = pytest.mark.django_db


def test_the_schema_is_served_as_openapi_3_1(client: Any) -> None:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.json()["openapi"] == "3.1.0"


def test_the_schema_documents_every_error_status_of_a_create(client: Any) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    responses = schema["paths"]["/cam/api/v1/smtpconnections"]["post"]["responses"]
    assert set(responses) == {"201", "400", "401", "403", "404", "409", "413", "415"}


def test_the_docs_page_loads_swagger_ui_from_this_app(client: Any) -> None:
    page = client.get("/api/docs/").content.decode()
    assert "/api/docs/assets/swagger-ui-dist/swagger-ui-bundle.js" in page
    assert "cdn." not in page


def test_the_docs_assets_are_served(client: Any) -> None:
    response = client.get("/api/docs/assets/swagger-ui-dist/swagger-ui-bundle.js")
    assert response.status_code == 200
