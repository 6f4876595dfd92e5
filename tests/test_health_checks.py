"""Health checks: a dry-run Test of each connection on its interval, on the worker."""

import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from connections import health_checks, records
from connections.models import EmailConnection, HealthCheck
from connections.tasks import jobs
from tests.factories import connection_form, make_connection, text
from tests.mailservers import PASSWORD, USER, SmtpServer
from tests.test_worker import queue, wait_until, worker, worker_env  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def plain_connection(server: SmtpServer, password: str = PASSWORD, **values: object) -> object:
    return make_connection(
        smtp_server=server.host, smtp_port=server.port, user_name=USER, password=password, **values
    )


def last_tested(connection: EmailConnection, ago: timedelta, passed: bool = True) -> None:
    at = timezone.now() - ago
    records.save_state(
        connection, last_test_at=at, last_test_ok=passed, last_passed_at=at if passed else None
    )


def test_a_connection_that_never_passed_a_test_is_not_checked_by_default() -> None:
    make_connection()
    assert health_checks.due() == []


def test_by_default_a_connection_that_passed_a_test_is_checked_hourly() -> None:
    connection = make_connection()
    last_tested(connection, timedelta(minutes=59))
    assert health_checks.due() == []
    last_tested(connection, timedelta(minutes=61))
    assert health_checks.due() == [connection]


def test_the_interval_is_set_per_connection() -> None:
    quarter = make_connection(name="Quarter", health_check=HealthCheck.QUARTER_HOUR)
    daily = make_connection(name="Daily", health_check=HealthCheck.DAILY)
    off = make_connection(name="Off", health_check=HealthCheck.OFF)
    for connection in (quarter, daily, off):
        last_tested(connection, timedelta(minutes=20))
    assert health_checks.due() == [quarter]
    last_tested(daily, timedelta(days=1, minutes=1))
    last_tested(off, timedelta(days=30))
    assert {c.name for c in health_checks.due()} == {"Quarter", "Daily"}


def test_a_set_interval_checks_even_a_connection_never_tested() -> None:
    connection = make_connection(health_check=HealthCheck.HOURLY)
    assert health_checks.due() == [connection]


def test_a_health_check_updates_status_and_last_test_and_sends_nothing(
    smtp_plain: SmtpServer,
) -> None:
    connection = plain_connection(smtp_plain, health_check=HealthCheck.QUARTER_HOUR)
    assert health_checks.run_due() == 1
    connection.refresh_from_db()
    assert connection.get_status_display() == "OK" and connection.last_passed_at
    assert smtp_plain.messages == []
    assert health_checks.due() == []


def test_a_failing_health_check_marks_the_connection_failing(smtp_plain: SmtpServer) -> None:
    connection = plain_connection(smtp_plain, password="wrong")
    last_tested(connection, timedelta(hours=2))
    health_checks.run_due()
    connection.refresh_from_db()
    assert connection.get_status_display() == "Failing"
    assert "Authentication rejected" in connection.last_test_summary
    assert connection.last_test_at > timezone.now() - timedelta(minutes=1)


def test_health_checks_are_not_held_back_by_the_tests_rate_limit(
    smtp_plain: SmtpServer, settings: object
) -> None:
    settings.MAIL_TEST_RATE = "1/minute"
    for n in range(3):
        plain_connection(smtp_plain, name=f"C{n}", health_check=HealthCheck.QUARTER_HOUR)
    assert health_checks.run_due() == 3
    assert EmailConnection.objects.filter(last_test_ok=True).count() == 3


def test_the_operator_sets_the_interval_on_the_form_and_it_is_versioned(
    admin_client_logged: object,
) -> None:
    connection = make_connection()
    data = connection_form(
        name="Mailer",
        smtp_server="127.0.0.1",
        smtp_port="2525",
        enable_starttls=None,
        email_address="robot@example.com",
        user_name="alice",
        password="",
        health_check="15",
        expected_version=connection.version,
    )
    page = text(admin_client_logged.get(connection.get_absolute_url()))
    assert "Every 15 minutes" in page and "Default (hourly once a Test has passed)" in page
    admin_client_logged.post(connection.get_absolute_url(), data)
    connection.refresh_from_db()
    assert connection.health_check == "15" and connection.version == 2


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_health_check(
    worker: subprocess.Popen,  # noqa: F811
    tmp_path: Path,
    smtp_plain: SmtpServer,
) -> None:
    connection = plain_connection(smtp_plain, health_check=HealthCheck.QUARTER_HOUR)

    jobs.run_health_checks()

    log = tmp_path / "run_huey.log"

    def checked() -> bool:
        assert worker.poll() is None, log.read_text()
        connection.refresh_from_db()
        return connection.last_test_at is not None

    wait_until(checked, "the worker to run the health check", log)
    assert connection.get_status_display() == "OK"
    assert "Executing connections.tasks.jobs.run_health_checks" in log.read_text()
    assert smtp_plain.messages == []


def test_a_connection_whose_last_test_passed_before_upgrading_is_checked_hourly() -> None:
    connection = make_connection()
    at = timezone.now() - timedelta(hours=2)
    records.save_state(connection, last_test_at=at, last_test_ok=True)  # no last_passed_at
    assert health_checks.due() == [connection]
