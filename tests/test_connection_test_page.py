"""The Test button through the pages, against real servers on 127.0.0.1."""

import time

import pytest
from django.urls import reverse

from connections.models import EmailConnection
from tests.factories import connection_form, make_connection, text

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _trust_the_test_ca(settings: object, mail_ca_file: str) -> None:
    settings.MAIL_TEST_CA_BUNDLE = mail_ca_file
    settings.MAIL_TEST_TIMEOUT = 3
    settings.MAIL_TEST_TOTAL_TIMEOUT = 10


def smtp_values(server: object, **overrides: object) -> dict:
    values = {
        "smtp_server": server.host,
        "smtp_port": server.port,
        "user_name": server.user,
        "password": server.password,
        "email_address": "robot@example.com",
        "enable_starttls": False,
        "enable_ssl": False,
    }
    values.update(overrides)
    return values


def stored(server: object, **overrides: object) -> EmailConnection:
    return make_connection(**smtp_values(server, **overrides))


def form_of(connection: EmailConnection, **overrides: object) -> dict:
    """The detail form as the browser posts it, unchanged unless overridden."""
    data = connection_form(
        name=connection.name,
        smtp_server=connection.smtp_server,
        smtp_port=str(connection.smtp_port),
        enable_starttls="on" if connection.enable_starttls else None,
        enable_ssl="on" if connection.enable_ssl else None,
        email_address=connection.email_address,
        user_name=connection.user_name,
        password="",
        expected_version=str(connection.version),
    )
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def run_test(client: object, connection: EmailConnection, **overrides: object) -> object:
    url = reverse("connections:emailconnection-test", args=[connection.pk])
    return client.post(url, form_of(connection, **overrides))


def stage(response: object, name: str) -> object:
    return response.context["report"].stage(name)


def test_a_dry_run_passes_every_stage_and_sends_nothing(
    admin_client_logged: object, smtp_starttls: object
) -> None:
    connection = stored(smtp_starttls, enable_starttls=True)
    response = run_test(admin_client_logged, connection)
    page = text(response)
    assert response.context["report"].ok
    assert "Test passed" in page
    assert "nothing was sent" in page
    assert stage(response, "data").status == "ok"
    assert stage(response, "tls").detail["verified"]
    assert smtp_starttls.messages == []
    assert smtp_starttls.password not in page


def test_a_recipient_gets_a_real_test_mail(admin_client_logged: object, smtp_ssl: object) -> None:
    connection = stored(smtp_ssl, enable_ssl=True)
    response = run_test(admin_client_logged, connection, recipient="ops@example.com")
    assert "a test mail was sent to ops@example.com" in text(response)
    assert len(smtp_ssl.messages) == 1
    assert smtp_ssl.messages[0].rcpt_tos == ["ops@example.com"]


def test_the_result_is_kept_and_shown_in_the_list(
    admin_client_logged: object, smtp_plain: object
) -> None:
    connection = stored(smtp_plain)
    run_test(admin_client_logged, connection)
    connection.refresh_from_db()
    assert connection.status == "ok"
    assert connection.version == 1
    listed = admin_client_logged.get(reverse("connections:emailconnection-list"), {"status": "ok"})
    assert connection in listed.context["object_list"]
    failing = admin_client_logged.get(
        reverse("connections:emailconnection-list"), {"status": "failing"}
    )
    assert connection not in failing.context["object_list"]


def test_a_wrong_password_fails_at_auth_with_a_hint(
    admin_client_logged: object, smtp_plain: object
) -> None:
    connection = stored(smtp_plain, password="not-the-password")
    response = run_test(admin_client_logged, connection)
    assert stage(response, "auth").status == "failed"
    assert "check User Name and Password" in text(response)
    assert "not-the-password" not in text(response)
    connection.refresh_from_db()
    assert connection.status == "failing"


def test_starttls_required_but_not_enabled_says_so(
    admin_client_logged: object, smtp_starttls: object
) -> None:
    response = run_test(admin_client_logged, stored(smtp_starttls))
    assert "STARTTLS" in response.context["report"].failed_stage.hint


def test_ssl_against_a_plain_port_fails_at_tls(
    admin_client_logged: object, smtp_plain: object
) -> None:
    response = run_test(admin_client_logged, stored(smtp_plain, enable_ssl=True))
    assert response.context["report"].failed_stage.name == "tls"
    assert "Enable SSL" in response.context["report"].failed_stage.hint


def test_an_untrusted_certificate_is_named(
    admin_client_logged: object, smtp_ssl: object, settings: object
) -> None:
    settings.MAIL_TEST_CA_BUNDLE = ""
    response = run_test(admin_client_logged, stored(smtp_ssl, enable_ssl=True))
    assert response.context["report"].failed_stage.name == "tls"
    assert "ertificate" in response.context["report"].failed_stage.hint


def test_a_closed_port_fails_at_connect(admin_client_logged: object, closed_port: int) -> None:
    connection = make_connection(smtp_server="127.0.0.1", smtp_port=closed_port)
    response = run_test(admin_client_logged, connection)
    assert response.context["report"].failed_stage.name == "connect"


def test_a_server_that_never_greets_fails_in_bounded_time(
    admin_client_logged: object, silent_server: object, settings: object
) -> None:
    settings.MAIL_TEST_TIMEOUT = 2
    connection = make_connection(smtp_server=silent_server.host, smtp_port=silent_server.port)
    started = time.monotonic()
    response = run_test(admin_client_logged, connection)
    assert response.context["report"].failed_stage.name == "greeting"
    assert time.monotonic() - started < 8


def test_unsaved_values_are_tested_without_being_saved(
    admin_client_logged: object, smtp_plain: object, smtp_ssl: object
) -> None:
    connection = stored(smtp_plain)
    response = run_test(
        admin_client_logged,
        connection,
        smtp_port=str(smtp_ssl.port),
        enable_ssl="on",
        password=smtp_ssl.password,
    )
    assert response.context["report"].ok
    assert response.context["report"].port == smtp_ssl.port
    connection.refresh_from_db()
    assert connection.smtp_port == smtp_plain.port
    assert connection.version == 1
    assert connection.status == "untested"


def test_a_changed_host_port_or_user_needs_the_password_again(
    admin_client_logged: object, smtp_plain: object, smtp_ssl: object
) -> None:
    connection = stored(smtp_plain)
    response = run_test(admin_client_logged, connection, smtp_port=str(smtp_ssl.port))
    assert "type the password again" in text(response)
    assert "report" not in response.context
    assert smtp_ssl.messages == []


def test_a_new_unsaved_connection_can_be_tested(
    admin_client_logged: object, smtp_plain: object
) -> None:
    data = connection_form(
        smtp_server=smtp_plain.host,
        smtp_port=str(smtp_plain.port),
        enable_starttls=None,
        user_name=smtp_plain.user,
        password=smtp_plain.password,
    )
    response = admin_client_logged.post(reverse("connections:emailconnection-test-new"), data)
    assert response.context["report"].ok
    assert not EmailConnection.objects.exists()


def test_invalid_values_are_named_instead_of_tested(admin_client_logged: object) -> None:
    data = connection_form(smtp_port="70000")
    response = admin_client_logged.post(reverse("connections:emailconnection-test-new"), data)
    assert "SMTP Port" in text(response)
    assert "Not tested." in text(response)


def test_testing_needs_its_own_permission(
    client: object, operator: object, smtp_plain: object
) -> None:
    operator.user_permissions.remove(
        *operator.user_permissions.filter(codename="test_emailconnection")
    )
    client.force_login(operator)
    connection = stored(smtp_plain)
    assert run_test(client, connection).status_code == 403
    assert ">Test<" not in text(client.get(connection.get_absolute_url()))


def test_tests_are_rate_limited_per_user(
    admin_client_logged: object, closed_port: int, settings: object
) -> None:
    settings.MAIL_TEST_RATE = "2/minute"
    connection = make_connection(smtp_server="127.0.0.1", smtp_port=closed_port)
    assert run_test(admin_client_logged, connection).status_code == 200
    assert run_test(admin_client_logged, connection).status_code == 200
    response = run_test(admin_client_logged, connection)
    assert response.status_code == 429
    assert "Too many tests" in text(response)


def test_an_imap_connection_checks_login_folders_and_trash(
    admin_client_logged: object, imap_server: object
) -> None:
    connection = make_connection(
        connection_type="incoming",
        smtp_server="",
        imap_server=imap_server.host,
        imap_port=imap_server.port,
        enable_starttls=True,
        user_name=imap_server.user,
        password=imap_server.password,
        trash_folder=imap_server.trash,
    )
    url = reverse("connections:emailconnection-test", args=[connection.pk])
    data = form_of(
        connection,
        connection_type="incoming",
        imap_server=imap_server.host,
        imap_port=str(imap_server.port),
        trash_folder=imap_server.trash,
    )
    response = admin_client_logged.post(url, data)
    assert response.context["report"].ok
    assert stage(response, "trash_folder").status == "ok"
    data["trash_folder"] = imap_server.missing
    response = admin_client_logged.post(url, data)
    assert response.context["report"].failed_stage.name == "trash_folder"
    assert "does not exist" in response.context["report"].failed_stage.hint
