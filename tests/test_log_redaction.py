"""No log line at any level carries a token, password or client secret (LOG_LEVEL=DEBUG too)."""

import logging
from typing import Any

import pytest

from tests.api_fixtures import CLIENT_SECRET, basic_auth, make_app

THIRD_PARTY = ("oauthlib", "requests_oauthlib", "oauth2_provider", "urllib3", "django")


@pytest.fixture
def everything_at_debug(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    for name in THIRD_PARTY:
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


@pytest.mark.django_db
def test_oauthlib_issuing_a_token_at_debug_logs_no_token(
    client: Any, operator: Any, everything_at_debug: pytest.LogCaptureFixture
) -> None:
    app = make_app(operator)
    response = client.post(
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "read"},
        HTTP_AUTHORIZATION=basic_auth(app),
    )
    token = response.json()["access_token"]
    logged = everything_at_debug.text
    assert "Issuing token" in logged  # oauthlib did log the token response...
    assert token not in logged  # ...with the token masked
    assert CLIENT_SECRET not in logged


@pytest.mark.parametrize(
    "line",
    [
        "Prepared body grant_type=refresh_token&refresh_token=rt-SECRET-1&client_id=x",
        "Obtained token {'access_token': 'at-SECRET-1', 'refresh_token': 'rt-SECRET-1'}",
        'token response {"access_token": "at-SECRET-1", "id_token": "eyJhbGciOiJSUzI1NiJ9.'
        'eyJlbWFpbCI6ImFAYi5jIn0.c2lnbmF0dXJl"}',
        "headers {'Authorization': 'Bearer at-SECRET-1'}",
        "GET /oauth/callback/?code=code-SECRET-1&state=abc HTTP/1.1",
        "login with password=pw-SECRET-1 client_secret=cs-SECRET-1",
        "Validating refresh token rtSECRET1abcdef for client <Application: x>.",
    ],
)
def test_secrets_in_any_logger_at_any_level_are_masked(
    everything_at_debug: pytest.LogCaptureFixture, line: str
) -> None:
    logging.getLogger("requests_oauthlib.oauth2_session").debug("%s", line)
    logging.getLogger("anything.else").warning(line)
    assert "SECRET" not in everything_at_debug.text
    assert "eyJlbWFpbCI6" not in everything_at_debug.text
    assert everything_at_debug.text.count("[redacted]") >= 2


def test_a_traceback_carrying_a_token_is_masked(
    everything_at_debug: pytest.LogCaptureFixture,
) -> None:
    try:
        raise ValueError("refresh failed for refresh_token=rt-SECRET-2")
    except ValueError:
        logging.getLogger("connections").exception("refresh failed")
    assert "SECRET" not in everything_at_debug.text
    assert "refresh_token=[redacted]" in everything_at_debug.text


def test_ordinary_lines_are_left_alone(everything_at_debug: pytest.LogCaptureFixture) -> None:
    logging.getLogger("connections").info("status_code=200 for %s", "Mailer (version 3)")
    assert "status_code=200 for Mailer (version 3)" in everything_at_debug.text
