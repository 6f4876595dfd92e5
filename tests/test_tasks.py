"""Email Tasks and Email Monitor Tasks through the pages and the API: Run now on the worker
(here run inline), runs and their reports, schedules claimed once, where tasks are used,
bad input refused at the field. Mail goes to the loopback aiosmtpd and Dovecot."""

import datetime
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from connections import records
from connections.models import EmailConnection, EmailMonitorTask, EmailTask, TaskRun
from connections.task_models import RunStatus, Schedule
from connections.tasks import jobs, runs
from connections.worker import HUEY
from tests.factories import make_connection, make_oauth_client, make_template, save, text
from tests.oauth_provider import oauth_connection
from tests.test_task_monitor import Box, mail

pytestmark = pytest.mark.django_db


@pytest.fixture
def inline_worker() -> Iterator[None]:
    """Jobs run as soon as they are enqueued, in this process (a worker's work, inline)."""
    immediate = HUEY.immediate
    HUEY.immediate = True
    yield
    HUEY.immediate = immediate


@pytest.fixture
def box(imap_server: object) -> Iterator[Box]:
    box = Box(imap_server)
    yield box
    box.close()


def outgoing(server: object, **values: object) -> EmailConnection:
    fields = {"name": "Mailer", "smtp_server": server.host, "smtp_port": server.port}
    return make_connection(**fields | values)


def incoming(server: object, box: Box, **values: object) -> EmailConnection:
    fields = {
        "name": "Mailbox",
        "connection_type": EmailConnection.Type.INCOMING,
        "imap_server": server.host,
        "imap_port": server.port,
        "email_address": "alice@example.com",
        "user_name": server.user,
    }
    return make_connection(password=server.password, **fields | values)


def email_task(**values: object) -> EmailTask:
    return save(EmailTask(**{"name": "Nightly report", **values}))


def monitor_task(**values: object) -> EmailMonitorTask:
    return save(EmailMonitorTask(**{"name": "Invoices", **values}))


def run_now(client: object, task: object, values: str = "", **kwargs: object) -> object:
    name = task._meta.model_name
    return client.post(
        reverse(f"connections:{name}-run", args=[task.pk]), {"values": values}, **kwargs
    )


def test_run_now_delivers_the_task_over_its_template_to_the_loopback_server(
    client, operator, smtp_plain, inline_worker, django_capture_on_commit_callbacks
):
    template = make_template(
        outgoing(smtp_plain),
        to="${team}@example.com",
        cc="boss@example.com",
        subject="Job ${job} failed",
        body="Template body",
    )
    task = email_task(
        template=template,
        bcc="audit@example.com",
        reply_to="desk@example.com",
        body="Job ${job} failed on ${host}.\n",
        variables={"team": "ops", "job": "nightly", "host": "db1"},
    )
    client.force_login(operator)

    with django_capture_on_commit_callbacks(execute=True):
        response = run_now(client, task, "host=db2\n")

    run = TaskRun.objects.get()
    assert response.url == run.get_absolute_url()
    assert run.status == RunStatus.SUCCEEDED, run.message
    assert (run.trigger, run.triggered_by, run.task_version) == ("user", operator, 1)
    [received] = smtp_plain.messages
    assert received.rcpt_tos == ["ops@example.com", "boss@example.com", "audit@example.com"]
    message = received.message
    assert message["To"] == "ops@example.com"
    assert message["Cc"] == "boss@example.com"
    assert message["Reply-To"] == "desk@example.com"
    assert message["Subject"] == "Job nightly failed"
    assert "Bcc" not in message
    assert message.get_content().replace("\r\n", "\n") == "Job nightly failed on db2.\n"
    assert run.message_id == message["Message-ID"]
    page = text(client.get(response.url))
    assert "Succeeded" in page
    assert "RCPT TO" in page
    assert 'data-status-url="' not in page  # ended: nothing to poll
    task.refresh_from_db()
    assert (task.last_run_status, task.last_run_at) == ("succeeded", run.started_at)


def test_an_unknown_placeholder_fails_the_run_naming_it(
    operator, smtp_plain, inline_worker, django_capture_on_commit_callbacks
):
    task = email_task(connection=outgoing(smtp_plain), to="a@example.com", body="Hi ${who}")

    with django_capture_on_commit_callbacks(execute=True):
        run = runs.start(task, operator)

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "${who}" in run.message
    assert smtp_plain.messages == []


def test_a_monitor_run_marks_the_matching_mail_read_and_moves_it_once(
    client, operator, imap_server, box, inline_worker, django_capture_on_commit_callbacks
):
    inbox, done = box.folder("inbox"), box.folder("done")
    box.append(inbox, mail("Invoice 7"))
    box.append(inbox, mail("Newsletter"))
    task = monitor_task(
        connection=incoming(imap_server, box),
        folder=inbox,
        subject_operator="contains",
        subject_value="invoice",
        action="move_mark_read",
        move_folder=done,
    )
    client.force_login(operator)

    with django_capture_on_commit_callbacks(execute=True):
        run_now(client, task)

    run = TaskRun.objects.get()
    response = client.get(run.get_absolute_url())
    assert run.status == RunStatus.SUCCEEDED, run.message
    assert box.flags(inbox) == {"Newsletter": set()}
    assert box.flags(done) == {"Invoice 7": {"\\Seen"}}
    assert run.report["examined"] == 2
    [match] = run.report["matches"]
    assert match["subject"] == "Invoice 7"
    assert match["sender"] == "Billing <billing@example.com>"
    assert "Invoice 7" in text(response)
    task.refresh_from_db()
    assert task.uidvalidity and task.last_uid  # remembered, not versioned
    assert task.version == 1

    box.mark_unseen(done)
    box.append(inbox, mail("Invoice 8"))
    with django_capture_on_commit_callbacks(execute=True):
        second = runs.start(task, operator)
    second.refresh_from_db()
    assert second.report["examined"] == 1  # the Newsletter was examined once already
    assert box.flags(done) == {"Invoice 7": set(), "Invoice 8": {"\\Seen"}}


def test_a_monitor_delete_moves_the_mail_to_the_trash_folder(
    operator, imap_server, box, inline_worker, django_capture_on_commit_callbacks
):
    inbox, trash = box.folder("inbox"), box.folder("trash")
    box.append(inbox, mail("Spam", sender="spam@example.net"))
    box.append(inbox, mail("Keep"))
    task = monitor_task(
        connection=incoming(imap_server, box, trash_folder=trash),
        folder=inbox,
        from_operator="equals",
        from_value="spam@example.net",
        action="delete",
    )

    with django_capture_on_commit_callbacks(execute=True):
        run = runs.start(task, operator)

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.message
    assert box.flags(inbox) == {"Keep": set()}
    assert box.flags(trash) == {"Spam": set()}


def test_run_now_on_an_unauthorized_oauth_connection_fails_saying_authorize_first(
    client, operator, inline_worker, django_capture_on_commit_callbacks
):
    connection = oauth_connection(make_oauth_client())
    task = email_task(connection=connection, to="a@example.com", body="x")
    client.force_login(operator)

    with django_capture_on_commit_callbacks(execute=True):
        run_now(client, task)

    run = TaskRun.objects.get()
    assert run.status == RunStatus.FAILED
    assert run.message.startswith("authorize first")
    assert run.report["stages"][-1]["name"] in ("auth", "mail_from", "rcpt_to", "data", "send")
    status = client.get(reverse("connections:taskrun-status", args=[run.pk])).json()
    assert status["ended"] and status["status"] == "failed"
    assert "authorize first" in status["html"]


def test_a_run_uses_the_connection_as_it_is_when_it_runs(
    operator, smtp_plain, smtp_starttls, settings, mail_ca_file
):
    settings.MAIL_TEST_CA_BUNDLE = mail_ca_file
    connection = outgoing(smtp_plain)
    task = email_task(connection=connection, to="a@example.com", body="x")
    run = runs.start(task, operator)  # queued: not executed yet
    # The server changes: the stored password is bound to the old one, so it must be typed.
    connection.smtp_port = smtp_starttls.port
    connection.enable_starttls = True
    with pytest.raises(Exception, match="type the password again"):
        connection.full_clean()
    connection.set_secret("password", "s3cret")
    connection.full_clean()
    records.save_record(connection, operator)

    runs.execute(run.pk)

    run.refresh_from_db()
    assert run.status == RunStatus.SUCCEEDED, run.message
    assert smtp_plain.messages == []
    assert len(smtp_starttls.messages) == 1


def test_a_run_ends_failed_not_in_a_crash_when_the_engine_raises(operator, monkeypatch):
    task = email_task(connection=make_connection(), to="a@example.com", body="x")
    run = runs.start(task, operator)

    def broken(*args: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("connections.tasks.sending.send", broken)
    runs.execute(run.pk)

    run.refresh_from_db()
    assert run.status == RunStatus.FAILED
    assert "unexpected error" in run.message
    assert runs.execute(run.pk) is None  # a run is executed once


def test_the_run_page_polls_its_status_until_the_run_ends(client, operator):
    task = email_task(connection=make_connection(), to="a@example.com", body="x")
    run = runs.start(task, operator)
    client.force_login(operator)

    page = client.get(run.get_absolute_url())
    status = client.get(reverse("connections:taskrun-status", args=[run.pk])).json()

    assert 'data-status-url="' in page.content.decode()
    assert "task_run.js" in page.content.decode()
    assert status == {"status": "queued", "label": "Queued", "ended": False}


def test_a_schedule_due_time_is_claimed_once_even_by_two_workers(operator):
    task = email_task(
        connection=make_connection(),
        to="a@example.com",
        body="x",
        schedule=Schedule.INTERVAL,
        interval_minutes=5,
    )
    assert task.next_run_at is not None
    later = task.next_run_at + datetime.timedelta(seconds=1)
    first, second = EmailTask.objects.get(pk=task.pk), EmailTask.objects.get(pk=task.pk)

    assert runs.claim(first, later) is True
    assert runs.claim(second, later) is False  # read the same due time, claimed already
    assert runs.enqueue_due(later) == []
    [run] = runs.enqueue_due(later + datetime.timedelta(minutes=5))
    assert (run.trigger, run.triggered_by) == ("schedule", None)


def test_a_cron_schedule_is_due_at_its_next_matching_minute():
    task = EmailTask(schedule=Schedule.CRON, cron_expression="30 6 * * *")
    moment = datetime.datetime(2026, 11, 21, 7, 0, tzinfo=datetime.UTC)
    assert task.due_after(moment) == datetime.datetime(2026, 11, 22, 6, 30, tzinfo=datetime.UTC)
    assert (
        EmailTask(schedule=Schedule.CRON, enabled=False, cron_expression="* * * * *").due_after(
            moment
        )
        is None
    )


def test_purge_runs_deletes_the_ended_runs_older_than_the_days_kept(operator, capsys):
    task = email_task(connection=make_connection(), to="a@example.com", body="x")
    old, recent, queued = (runs.start(task, operator) for _ in range(3))
    long_ago = timezone.now() - datetime.timedelta(days=40)
    TaskRun.objects.filter(pk__in=[old.pk, queued.pk]).update(queued_at=long_ago)
    TaskRun.objects.filter(pk__in=[old.pk, recent.pk]).update(status=RunStatus.SUCCEEDED)

    call_command("purge_runs", "--keep-days", "30")

    assert set(TaskRun.objects.values_list("pk", flat=True)) == {recent.pk, queued.pk}
    assert "Removed 1 runs" in capsys.readouterr().out


def test_the_tasks_tabs_list_the_tasks_using_a_connection_and_a_template(client, operator):
    connection = make_connection()
    template = make_template(connection)
    email_task(name="From template", template=template)
    email_task(name="Direct", connection=connection, to="a@example.com", body="x")
    mailbox = make_connection(
        name="Box",
        connection_type="incoming",
        imap_server="127.0.0.1",
        email_address="box@example.com",
    )
    monitor_task(name="Watcher", connection=mailbox)
    client.force_login(operator)

    on_connection = text(
        client.get(reverse("connections:emailconnection-tasks", args=[connection.pk]))
    )
    on_mailbox = text(client.get(reverse("connections:emailconnection-tasks", args=[mailbox.pk])))
    on_template = text(client.get(reverse("connections:emailtemplate-tasks", args=[template.pk])))

    assert "From template" in on_connection and "Direct" in on_connection
    assert "Watcher" in on_mailbox and "Direct" not in on_mailbox
    assert "From template" in on_template and "Direct" not in on_template


def test_delete_of_a_connection_or_template_used_by_tasks_is_refused_naming_them(client, operator):
    connection = make_connection()
    template = make_template(connection, name="Alert")
    email_task(name="Uses template", template=template)
    client.force_login(operator)

    refused = client.post(
        reverse("connections:emailconnection-delete", args=[connection.pk]), follow=True
    )
    refused_template = client.post(
        reverse("connections:emailtemplate-delete", args=[template.pk]), follow=True
    )

    assert 'Email Task "Uses template"' in text(refused)
    assert 'Email Task "Uses template"' in text(refused_template)
    assert EmailConnection.objects.filter(pk=connection.pk).exists()


def form(task_type: str, **values: str) -> dict[str, str]:
    data = {"name": "T", "description": "", "schedule": "none", "_save": ""}
    if task_type == "emailmonitortask":
        data |= {"folder": "INBOX", "action": "mark_read"}
    return data | values


def post_new(client: object, task_type: str, **values: str) -> object:
    return client.post(reverse(f"connections:{task_type}-new"), form(task_type, **values))


@pytest.mark.parametrize(
    ("task_type", "values", "field", "message"),
    [
        ("emailtask", {"to": "a@example.com", "body": "x"}, "connection", "Choose an Email"),
        (
            "emailtask",
            {"connection": "INCOMING", "to": "a@example.com", "body": "x"},
            "connection",
            "Choose an Outgoing connection",
        ),
        ("emailtask", {"connection": "OUTGOING", "body": "x"}, "to", "Give at least one recipient"),
        (
            "emailtask",
            {
                "connection": "OUTGOING",
                "to": "a@example.com",
                "body": "x",
                "schedule": "cron",
                "cron_expression": "61 * * * *",
            },
            "cron_expression",
            "Invalid cron expression",
        ),
        (
            "emailtask",
            {
                "connection": "OUTGOING",
                "to": "a@example.com",
                "body": "x",
                "schedule": "cron",
                "cron_expression": "* * *",
            },
            "cron_expression",
            "Give 5 fields",
        ),
        (
            "emailtask",
            {
                "connection": "OUTGOING",
                "to": "a@example.com",
                "body": "x",
                "schedule": "interval",
                "interval_minutes": "0",
            },
            "interval_minutes",
            "1 or more",
        ),
        (
            "emailmonitortask",
            {"connection": "OUTGOING"},
            "connection",
            "Choose an Incoming connection",
        ),
        (
            "emailmonitortask",
            {"connection": "INCOMING", "action": "move"},
            "move_folder",
            "Move needs a folder",
        ),
        (
            "emailmonitortask",
            {"connection": "INCOMING", "subject_operator": "regex", "subject_value": "(unclosed"},
            "subject_value",
            "Invalid regex: missing )",
        ),
    ],
)
def test_bad_input_is_refused_at_the_field_and_nothing_is_saved(
    client, operator, task_type, values, field, message
):
    outgoing_connection = make_connection()
    mailbox = make_connection(
        name="Box",
        connection_type="incoming",
        imap_server="127.0.0.1",
        email_address="box@example.com",
    )
    refs = {"OUTGOING": outgoing_connection.pk, "INCOMING": mailbox.pk}
    values = {k: str(refs.get(v, v)) for k, v in values.items()}
    client.force_login(operator)

    response = post_new(client, task_type, **values)

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors, errors
    assert message in " ".join(errors[field])
    assert not EmailTask.objects.exists() and not EmailMonitorTask.objects.exists()


def test_both_task_types_have_the_record_pages_and_buttons(client, operator):
    connection = make_connection()
    mailbox = make_connection(
        name="Box", connection_type="incoming", imap_server="127.0.0.1", email_address="b@x.org"
    )
    tasks = [
        email_task(connection=connection, to="a@example.com", body="x"),
        monitor_task(connection=mailbox),
    ]
    client.force_login(operator)

    for task in tasks:
        name = task._meta.model_name
        for page in ("list", "new"):
            assert client.get(reverse(f"connections:{name}-{page}")).status_code == 200
        detail = text(client.get(task.get_absolute_url()))
        assert 'id="run-now-button"' in detail
        for button in ("Update", "Copy", "Delete", "Runs", "Versions"):
            assert button in detail, (name, button)
        for tab in ("runs", "versions"):
            assert (
                client.get(reverse(f"connections:{name}-{tab}", args=[task.pk])).status_code == 200
            )
        copied = client.post(reverse(f"connections:{name}-copy", args=[task.pk]), {"name": "Copy"})
        copy = type(task).objects.get(name="Copy")
        assert copied.url == copy.get_absolute_url()
        client.post(reverse(f"connections:{name}-delete", args=[copy.pk]))
        assert not type(task).objects.filter(name="Copy").exists()


def test_an_update_makes_a_version_and_keeps_the_run_state(client, operator):
    task = email_task(
        connection=make_connection(), to="a@example.com", body="x", variables={"a": "1"}
    )
    EmailTask.objects.filter(pk=task.pk).update(last_run_status="failed")
    client.force_login(operator)
    data = form(
        "emailtask",
        name=task.name,
        connection=str(task.connection_id),
        to="a@example.com",
        body="y",
        variables="a=2\nb=3",
        schedule="interval",
        interval_minutes="15",
        enabled="on",
        expected_version="1",
        _update="",
    )

    client.post(task.get_absolute_url(), data)

    task.refresh_from_db()
    assert (task.version, task.body, task.variables) == (2, "y", {"a": "2", "b": "3"})
    assert task.last_run_status == "failed"
    assert task.next_run_at > timezone.now() + datetime.timedelta(minutes=14)
    assert task.history.count() == 2


def test_run_now_needs_its_own_permission(client, viewer):
    task = email_task(connection=make_connection(), to="a@example.com", body="x")
    client.force_login(viewer)

    page = text(client.get(task.get_absolute_url()))
    refused = run_now(client, task)

    assert 'id="run-now-button"' not in page
    assert refused.status_code == 403
    assert not TaskRun.objects.exists()


def test_a_monitor_moved_to_another_folder_starts_counting_its_uids_again(operator):
    mailbox = make_connection(
        name="Box", connection_type="incoming", imap_server="127.0.0.1", email_address="b@x.org"
    )
    task = monitor_task(connection=mailbox)
    EmailMonitorTask.objects.filter(pk=task.pk).update(uidvalidity=7, last_uid=42)
    task.refresh_from_db()

    task.description = "same folder"
    records.save_record(task, operator)
    task.refresh_from_db()
    kept = (task.uidvalidity, task.last_uid)
    task.folder = "Archive"
    records.save_record(task, operator)
    task.refresh_from_db()

    assert kept == (7, 42)
    assert (task.uidvalidity, task.last_uid, task.version) == (0, 0, 3)


def test_the_demo_data_has_a_task_of_each_kind_with_its_schedule_off():
    call_command("demo_data", password="x-demo-pass-1")
    call_command("demo_data", password="x-demo-pass-1")  # idempotent

    email = EmailTask.objects.get(name="Nightly job failed")
    monitor = EmailMonitorTask.objects.get(name="Support bounces")
    assert email.template.name == "Job failed" and not email.enabled
    assert monitor.connection.name == "Support mailbox" and monitor.next_run_at is None


def test_run_now_values_with_a_null_character_are_refused_not_stored(client, operator):
    task = email_task(connection=make_connection(), to="a@example.com", body="x")
    client.force_login(operator)

    response = run_now(client, task, "who=a\x00b", follow=True)

    assert "Null characters are not allowed" in text(response)
    assert not TaskRun.objects.exists()


@pytest.mark.parametrize(
    "garbage",
    [
        {"interval_minutes": "abc", "schedule": "interval"},
        {"schedule": "weekly"},
        {"connection": "99999999999999999999999"},
        {"template": "-1"},
        {"variables": "=x\nnot a pair"},
        {"cron_expression": "\u00e9 * * * *", "schedule": "cron"},
        {"action": "explode", "subject_operator": "like"},
    ],
)
def test_garbage_in_a_task_form_is_a_form_error_never_a_server_error(client, operator, garbage):
    client.force_login(operator)

    for task_type in ("emailtask", "emailmonitortask"):
        response = post_new(client, task_type, **garbage)
        assert response.status_code == 200
        assert response.context["form"].errors

    assert not EmailTask.objects.exists() and not EmailMonitorTask.objects.exists()


def test_pages_of_runs_and_tasks_that_do_not_exist_are_not_found(client, operator):
    client.force_login(operator)

    for url in ("/runs/99/", "/runs/99/status/", "/email-tasks/99/runs/", "/templates/99/preview/"):
        assert client.get(url).status_code == 404, url
    assert client.post("/monitor-tasks/99/run/").status_code == 404


def test_a_tasks_versions_compare_and_restore(client, operator):
    task = email_task(
        connection=make_connection(), to="a@example.com", body="x", variables={"a": "1"}
    )
    task.variables = {"a": "2"}
    task.schedule, task.interval_minutes = Schedule.INTERVAL, 5
    task.full_clean()
    records.save_record(task, operator)
    client.force_login(operator)

    compare = client.get(reverse("connections:emailtask-compare", args=[task.pk]), {"v": [1, 2]})
    version = client.get(reverse("connections:emailtask-version", args=[task.pk, 1]))
    restored = client.post(reverse("connections:emailtask-restore", args=[task.pk, 1]))

    assert compare.status_code == version.status_code == 200
    assert "Variables" in text(compare) and "Every (minutes)" in text(compare)
    assert restored.status_code == 302
    task.refresh_from_db()
    assert (task.version, task.variables, task.schedule) == (3, {"a": "1"}, "none")
    assert task.next_run_at is None  # the restored schedule is none


def test_a_run_left_running_by_a_stopped_worker_ends_failed_saying_so(operator):
    task = email_task(connection=make_connection(), to="a@example.com", body="x")
    stuck, recent = runs.start(task, operator), runs.start(task, operator)
    long_ago = timezone.now() - datetime.timedelta(hours=1)
    TaskRun.objects.filter(pk=stuck.pk).update(status=RunStatus.RUNNING, started_at=long_ago)
    TaskRun.objects.filter(pk=recent.pk).update(status=RunStatus.RUNNING, started_at=timezone.now())
    EmailTask.objects.filter(pk=task.pk).update(last_run_status=RunStatus.RUNNING)

    jobs.run_scheduled_tasks.call_local()

    stuck.refresh_from_db()
    recent.refresh_from_db()
    task.refresh_from_db()
    assert (stuck.status, recent.status) == (RunStatus.FAILED, RunStatus.RUNNING)
    assert stuck.message.startswith("The worker stopped during the run")
    assert task.last_run_status == RunStatus.FAILED


@pytest.mark.django_db(transaction=True)
def test_two_runs_of_one_monitor_at_once_act_on_a_mail_once(imap_server, box, monkeypatch):
    """Two workers running the same monitor task together: the second waits for the first
    and then finds nothing new, so no mail is moved twice."""
    import threading
    import time

    from django.db import connection as db

    from connections.mail import mailbox

    real_fetch = mailbox.fetch

    def slow_fetch(*args, **kwargs):
        # both runs would have read the mail before either acts on it
        mails = real_fetch(*args, **kwargs)
        time.sleep(1)
        return mails

    monkeypatch.setattr(mailbox, "fetch", slow_fetch)

    inbox, done = box.folder("inbox"), box.folder("done")
    box.append(inbox, mail("Invoice 9"))
    task = monitor_task(
        connection=incoming(imap_server, box),
        folder=inbox,
        action="move_mark_read",
        move_folder=done,
    )
    pending = [
        TaskRun.objects.create(monitor_task=task, task_version=1, trigger="user") for _ in range(2)
    ]
    start = threading.Barrier(2)

    def execute(run: TaskRun) -> None:
        try:
            start.wait()
            runs.execute(run.pk)
        finally:
            db.close()

    threads = [threading.Thread(target=execute, args=(run,)) for run in pending]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    ended = [TaskRun.objects.get(pk=run.pk) for run in pending]
    assert [run.status for run in ended] == [RunStatus.SUCCEEDED] * 2, [r.message for r in ended]
    assert sum(run.report["matched"] for run in ended) == 1
    assert box.flags(done) == {"Invoice 9": {"\\Seen"}}
    assert box.flags(inbox) == {}
