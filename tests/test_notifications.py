"""Notifications: one mail per change of state, through the System Connection, logged."""

import datetime
from collections.abc import Iterator

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from connections import crypto, health_checks, notifications, records
from connections.models import EmailConnection, EmailTask, HealthCheck
from connections.notification_models import Notification, NotificationSettings
from connections.oauth import tokens
from connections.tasks import runs
from connections.worker import HUEY
from tests.factories import make_connection, make_oauth_client, save, text
from tests.mailservers import PASSWORD, USER, SmtpServer
from tests.oauth_provider import (
    CLIENT_SECRET,
    MAILBOX_USER,
    authorize_in_console,
    oauth_connection,
)

# Real commits: a notification is queued when the change that caused it commits.
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def inline_worker() -> Iterator[None]:
    """Jobs run as soon as they are queued, in this process, as the worker would run them."""
    immediate = HUEY.immediate
    HUEY.immediate = True
    yield
    HUEY.immediate = immediate


@pytest.fixture
def system(smtp_plain: SmtpServer) -> EmailConnection:
    """The System Connection: the loopback aiosmtpd, with its password."""
    return make_connection(
        name="System",
        smtp_server=smtp_plain.host,
        smtp_port=smtp_plain.port,
        user_name=USER,
        password=PASSWORD,
        email_address="console@example.com",
        system_connection=True,
        health_check=HealthCheck.OFF,
    )


def watched(server: SmtpServer, password: str = PASSWORD, **values: object) -> EmailConnection:
    values.setdefault("health_check", HealthCheck.QUARTER_HOUR)
    return make_connection(
        name="Watched",
        smtp_server=server.host,
        smtp_port=server.port,
        user_name=USER,
        password=password,
        **values,
    )


def set_password(connection: EmailConnection, password: str) -> None:
    connection.refresh_from_db()
    connection.set_secret("password", password)
    records.save_record(connection, None)


def subjects(server: SmtpServer) -> list[str]:
    # a long Subject is folded: its first line starts with the folding space
    return [str(m.message["Subject"]).strip() for m in server.messages]


def test_one_mail_per_change_of_state_over_several_failing_checks(
    system: EmailConnection,
    smtp_plain: SmtpServer,
    admin_user: object,
    inline_worker: None,
    settings: object,
) -> None:
    settings.PUBLIC_BASE_URL = "https://console.example.com"
    connection = watched(smtp_plain)
    health_checks.check(connection)  # passes: first known state, nothing to tell
    set_password(connection, "wrong-password-value")
    for _ in range(3):
        health_checks.check(connection)
    assert subjects(smtp_plain) == [
        '[Email Connections] Email Connection "Watched": Connection starts failing'
    ]
    set_password(connection, PASSWORD)
    health_checks.check(connection)
    health_checks.check(connection)
    assert len(smtp_plain.messages) == 2
    assert subjects(smtp_plain)[1].endswith("Connection recovers")
    failing = smtp_plain.messages[0]
    assert failing.rcpt_tos == [admin_user.email]
    assert str(failing.message["From"]) == "console@example.com"
    body = failing.message.get_content()
    assert "What changed: Status: OK -> Failing." in body
    assert "Failing stage: Authentication" in body and "Hint: Authentication rejected" in body
    assert f"Open it: https://console.example.com/connections/{connection.pk}/" in body
    assert "wrong-password-value" not in body and PASSWORD not in body
    log = Notification.objects.order_by("pk")
    assert [n.status for n in log] == ["sent", "sent"] and log[0].attempts == 1


def test_without_a_system_connection_the_notification_is_logged_as_failed(
    smtp_plain: SmtpServer, admin_user: object, inline_worker: None
) -> None:
    connection = watched(smtp_plain)
    health_checks.check(connection)
    set_password(connection, "wrong")
    health_checks.check(connection)
    (logged,) = Notification.objects.all()
    assert logged.status == "failed" and logged.error.startswith("No System Connection")
    assert smtp_plain.messages == []


def test_the_lists_warn_when_there_is_no_system_connection(
    admin_client_logged: object, smtp_plain: SmtpServer
) -> None:
    page = text(admin_client_logged.get("/templates/"))
    assert 'id="no-system-connection"' in page
    assert "/connections/?connection_type=outgoing" in page
    make_connection(system_connection=True)
    assert 'id="no-system-connection"' not in text(admin_client_logged.get("/templates/"))


def test_a_failed_delivery_is_retried_with_a_growing_delay_then_marked_failed(
    system: EmailConnection, closed_port: int, settings: object, admin_user: object
) -> None:
    settings.NOTIFICATION_ATTEMPTS = 3
    settings.NOTIFICATION_RETRY_DELAY = 30
    system.refresh_from_db()
    system.smtp_port = closed_port
    system.set_secret("password", PASSWORD)
    records.save_record(system, None)
    notification = notifications.notify("connection_failing", system, "Status: OK -> Failing.")
    delays = [notifications.deliver(notification.pk) for _ in range(3)]
    assert delays == [datetime.timedelta(seconds=30), datetime.timedelta(seconds=60), None]
    notification.refresh_from_db()
    assert notification.status == "failed" and notification.attempts == 3
    assert notification.error.startswith('Through "System": ')


def test_the_worker_job_asks_huey_to_retry_a_failed_delivery(
    system: EmailConnection, closed_port: int, admin_user: object
) -> None:
    from huey.exceptions import RetryTask

    from connections.tasks import jobs

    EmailConnection.objects.filter(pk=system.pk).update(smtp_port=closed_port)
    notification = notifications.notify("connection_failing", system, "x")
    with pytest.raises(RetryTask) as retry:
        jobs.send_notification.call_local(notification.pk)
    assert retry.value.delay == 60


def test_recipients_come_from_the_settings_and_the_record_adds_its_own(
    system: EmailConnection,
    smtp_plain: SmtpServer,
    django_user_model: type,
    inline_worker: None,
) -> None:
    ops = Group.objects.create(name="Ops")
    member = django_user_model.objects.create_user("olga", "olga@example.com", "pw")
    member.groups.add(ops)
    settings_record = NotificationSettings(
        name="x", connection_addresses="oncall@example.com", authorization_addresses=""
    )
    settings_record.full_clean()
    records.save_record(settings_record, None, m2m={"connection_groups": [ops]})
    connection = watched(smtp_plain, notify_addresses="owner@example.com")
    health_checks.check(connection)
    set_password(connection, "wrong")
    health_checks.check(connection)
    (mail,) = smtp_plain.messages
    assert mail.rcpt_tos == ["oncall@example.com", "olga@example.com", "owner@example.com"]


def test_notification_recipients_that_are_not_addresses_are_refused(
    admin_client_logged: object,
) -> None:
    response = admin_client_logged.post(
        "/notifications/settings/", {"connection_addresses": "ops@example.com, not-an-address"}
    )
    assert "Not a valid email address: not-an-address" in text(response)
    assert not NotificationSettings.objects.exists()
    with pytest.raises(Exception, match="not-an-address"):
        make_connection(notify_addresses="not-an-address")


def test_the_settings_page_saves_a_version_with_the_acting_user(
    admin_client_logged: object, admin_user: object
) -> None:
    page = text(admin_client_logged.get("/notifications/settings/"))
    assert "admin@example.com" in page  # the default: the superusers' addresses
    admin_client_logged.post("/notifications/settings/", {"task_addresses": "ops@example.com"})
    admin_client_logged.post(
        "/notifications/settings/", {"task_addresses": "ops@example.com, dev@example.com"}
    )
    stored = NotificationSettings.objects.get()
    assert stored.version == 2 and stored.updated_by == admin_user
    assert stored.history.latest().history_user == admin_user
    page = text(admin_client_logged.get("/notifications/settings/"))
    assert 'id="settings-versions"' in page and "Task run fails or recovers: Addresses" in page


def test_the_settings_need_their_own_permission(client: object, operator: object) -> None:
    client.force_login(operator)
    assert client.get("/notifications/settings/").status_code == 200
    operator.user_permissions.remove(Permission.objects.get(codename="change_notificationsettings"))
    operator = type(operator).objects.get(pk=operator.pk)
    client.force_login(operator)
    assert client.post("/notifications/settings/", {"task_addresses": ""}).status_code == 403
    assert not NotificationSettings.objects.exists()


def test_a_failed_oauth_refresh_and_the_new_authorization_are_told_once_each(
    system: EmailConnection, smtp_plain: SmtpServer, inline_worker: None, admin_user: object
) -> None:
    connection = make_connection(
        name="O365",
        password="",
        authentication=EmailConnection.Auth.OAUTH2,
        oauth_client=make_oauth_client(),
        user_name="robot@example.com",
    )
    records.save_state(
        connection,
        oauth_authorized=True,
        oauth_access_token_enc=crypto.encrypt("expired-access-token"),
        oauth_expires_at=timezone.now() - datetime.timedelta(minutes=1),
    )
    tokens.refresh_due()
    tokens.refresh_due()
    assert subjects(smtp_plain) == [
        '[Email Connections] Email Connection "O365": Reauthorization needed'
    ]
    assert "expired-access-token" not in smtp_plain.messages[0].message.get_content()
    tokens.store(connection, {"access_token": "new", "refresh_token": "r"}, "robot@example.com")
    assert subjects(smtp_plain)[1].endswith("Authorized again")


def test_a_task_failing_twice_then_succeeding_is_told_twice(
    system: EmailConnection, smtp_plain: SmtpServer, inline_worker: None, admin_user: object
) -> None:
    sender = watched(smtp_plain, password="wrong", health_check=HealthCheck.OFF)
    task = save(EmailTask(name="Nightly", connection=sender, to="ops@example.com", body="hi"))
    for _ in range(2):
        runs.execute(runs.start(task).pk)
    set_password(sender, PASSWORD)
    runs.execute(runs.start(task).pk)
    told = [s for s in subjects(smtp_plain) if s.startswith("[Email Connections]")]
    assert told == [
        '[Email Connections] Email Task "Nightly": Task run fails',
        '[Email Connections] Email Task "Nightly": Task succeeds again',
    ]


def test_the_log_page_and_the_api_list_what_was_sent(
    system: EmailConnection, admin_client_logged: object, api: object
) -> None:
    notifications.notify("connection_failing", system, "Status: OK -> Failing.")
    page = text(admin_client_logged.get("/notifications/"))
    assert 'Email Connection "System"' in page and "Connection starts failing" in page
    listed = api.get("/api/v1/notifications/")
    assert listed.status_code == 200
    (entry,) = listed.json()["results"]
    assert entry["record_name"] == "System" and entry["status"] == "queued"


def test_an_oauth_system_connection_sends_with_its_token(
    provider: object,
    oauth_client: object,
    smtp_oauth: SmtpServer,
    mailbox_user: object,
    admin_user: object,
) -> None:
    system = oauth_connection(oauth_client, smtp_server=smtp_oauth.host, smtp_port=smtp_oauth.port)
    authorize_in_console(provider, system)
    EmailConnection.objects.filter(pk=system.pk).update(system_connection=True)
    notification = notifications.notify("authorized_again", system, "Authorized again.")
    assert notifications.deliver(notification.pk) is None
    (received,) = smtp_oauth.messages
    assert received.auth_user == MAILBOX_USER
    assert admin_user.email in received.rcpt_tos  # the superusers, by default
    notification.refresh_from_db()
    assert notification.status == "sent"


def test_a_refresh_refused_by_the_provider_is_told_once_and_reauthorizing_once(
    system: EmailConnection,
    smtp_plain: SmtpServer,
    inline_worker: None,
    admin_user: object,
    provider: object,
    oauth_client: object,
    short_lived_tokens: int,
) -> None:
    connection = oauth_connection(oauth_client)
    authorize_in_console(provider, connection)
    connection.refresh_from_db()
    refresh_token = connection.get_secret("oauth_refresh_token")
    provider.revoke(refresh_token, "refresh_token")
    assert tokens.refresh(connection, force=True) is False
    assert tokens.refresh(connection, force=True) is False
    tokens.refresh_due()
    (told,) = smtp_plain.messages
    body = told.message.get_content()
    assert "Failing stage: OAuth token refresh" in body and "invalid_grant" in body
    assert refresh_token not in body and CLIENT_SECRET not in body
    authorize_in_console(provider, connection)
    assert subjects(smtp_plain)[1].endswith("Authorized again")
    assert len(smtp_plain.messages) == 2
