"""Fixtures for the API tests: OAuth applications, real tokens from /o/token/, a client.

Loaded as a pytest plugin from tests/conftest.py.
"""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application

from connections import records
from connections.models import EmailConnection

CLIENT_SECRET = "client-secret-for-tests"


@dataclass
class Api:
    """The Django test client with a Bearer token and JSON bodies."""

    client: Client
    token: str | None

    def call(self, method: str, path: str, body: Any = None, **extra: Any) -> Any:
        headers = {"HTTP_AUTHORIZATION": f"Bearer {self.token}"} if self.token else {}
        if body is not None:
            extra.setdefault("content_type", "application/json")
            extra["data"] = body if isinstance(body, str | bytes) else json.dumps(body)
        return getattr(self.client, method)(path, **headers, **extra)

    def get(self, path: str, **extra: Any) -> Any:
        return self.call("get", path, **extra)

    def post(self, path: str, body: Any = None, **extra: Any) -> Any:
        return self.call("post", path, body, **extra)

    def patch(self, path: str, body: Any = None, **extra: Any) -> Any:
        return self.call("patch", path, body, **extra)

    def delete(self, path: str, **extra: Any) -> Any:
        return self.call("delete", path, **extra)


def make_app(owner: Any, name: str = "scripts") -> Application:
    return Application.objects.create(
        name=name,
        user=owner,
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
        client_secret=CLIENT_SECRET,
    )


def basic_auth(app: Application) -> str:
    raw = f"{app.client_id}:{CLIENT_SECRET}".encode()
    return f"Basic {base64.b64encode(raw).decode()}"


@pytest.fixture
def issue(client: Client) -> Callable[..., str]:
    """Get a real access token from /o/token/ (client credentials) for an application."""

    def issue(app: Application, scope: str = "read write test") -> str:
        response = client.post(
            "/o/token/",
            {"grant_type": "client_credentials", "scope": scope},
            HTTP_AUTHORIZATION=basic_auth(app),
        )
        assert response.status_code == 200, response.content
        return response.json()["access_token"]

    return issue


@pytest.fixture
def operator_app(operator: Any) -> Application:
    """A client-credentials application owned by the operator (all app permissions)."""
    return make_app(operator)


@pytest.fixture
def api(client: Client, operator_app: Application, issue: Callable[..., str]) -> Api:
    """The operator's scripts, with a token of every scope."""
    return Api(client, issue(operator_app))


@pytest.fixture
def api_as(client: Client) -> Callable[..., Api]:
    """An API client whose token acts for `user` with `scope` (made directly, no request)."""

    def api_as(user: Any, scope: str = "read write test") -> Api:
        app = make_app(user, name=f"app of {user}")
        token = AccessToken.objects.create(
            user=None,
            application=app,
            token=f"token-{user.pk}-{scope.replace(' ', '-')}",
            scope=scope,
            expires=in_an_hour(),
        )
        return Api(client, token.token)

    return api_as


def in_an_hour() -> datetime.datetime:
    return timezone.now() + datetime.timedelta(hours=1)


@pytest.fixture
def outgoing(operator: Any) -> EmailConnection:
    """A stored Outgoing connection (password auth) nobody has tested yet."""
    connection = EmailConnection(
        name="Outgoing",
        smtp_server="127.0.0.1",
        smtp_port=25,
        email_address="alice@example.com",
        authentication=EmailConnection.Auth.PASSWORD,
        user_name="alice",
    )
    connection.set_secret("password", "s3cret")
    connection.full_clean()
    return records.save_record(connection, operator).record


@pytest.fixture
def incoming(operator: Any) -> EmailConnection:
    connection = EmailConnection(
        name="Mailbox",
        connection_type=EmailConnection.Type.INCOMING,
        imap_server="127.0.0.1",
        imap_port=143,
        email_address="alice@example.com",
        authentication=EmailConnection.Auth.PASSWORD,
        user_name="alice",
    )
    connection.set_secret("password", "s3cret")
    connection.full_clean()
    return records.save_record(connection, operator).record


@pytest.fixture
def ca_trusted(settings: Any, mail_ca_file: str) -> str:
    """Tests of the TLS test servers trust their self-signed certificate."""
    settings.MAIL_TEST_CA_BUNDLE = mail_ca_file
    return mail_ca_file
