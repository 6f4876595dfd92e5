"""Tasks through the API and the admin, a scheduled task run by a real worker process, and
an Email Template's Preview and Send test."""

import subprocess
from pathlib import Path

import pytest
from django.urls import reverse
from django.utils import timezone

from connections.models import EmailConnection, EmailTask, TaskRun
from connections.tasks import jobs
from tests.factories import make_connection, make_template, save, text
from tests.test_worker import queue, wait_until, worker, worker_env  # noqa: F401 - fixtures

pytestmark = pytest.mark.django_db


def test_an_email_task_is_created_run_and_its_run_listed_through_the_api(
    api, outgoing, django_capture_on_commit_callbacks
):
    created = api.post(
        "/api/v1/email-tasks/",
        {
            "name": "Report",
            "connection": outgoing.pk,
            "to": "ops@example.com",
            "body": "Hello ${who}",
            "variables": {"who": "ops"},
            "schedule": "interval",
            "interval_minutes": 10,
        },
    )
    assert created.status_code == 201, created.json()
    task = created.json()
    assert task["version"] == 1 and task["next_run_at"] and task["last_run_status"] == ""

    ran = api.post(f"/api/v1/email-tasks/{task['id']}/run/", {"values": {"who": "you"}})

    assert ran.status_code == 202, ran.json()
    run = ran.json()
    assert run["status"] == "queued"
    assert (run["task_type"], run["task"], run["task_version"]) == ("email_task", task["id"], 1)
    assert (run["trigger"], run["triggered_by"], run["values"]) == (
        "user",
        "operator",
        {"who": "you"},
    )
    listed = api.get(f"/api/v1/runs/?email_task={task['id']}&status=queued").json()
    assert [r["id"] for r in listed["results"]] == [run["id"]]
    assert api.get("/api/v1/runs/?status=failed").json()["results"] == []
    assert api.get(f"/api/v1/runs/{run['id']}/").json()["report"] is None


def test_the_api_refuses_bad_task_input_with_the_fields_named(api, outgoing, incoming):
    on_incoming = api.post(
        "/api/v1/email-tasks/",
        {"name": "T", "connection": incoming.pk, "to": "a@example.com", "body": "x"},
    )
    bad_cron = api.post(
        "/api/v1/email-monitor-tasks/",
        {"name": "M", "connection": incoming.pk, "schedule": "cron", "cron_expression": "x"},
    )
    bad_regex = api.post(
        "/api/v1/email-monitor-tasks/",
        {"name": "M", "connection": incoming.pk, "body_operator": "regex", "body_value": "["},
    )

    assert on_incoming.status_code == 400
    assert "Outgoing" in on_incoming.json()["errors"]["connection"][0]
    assert bad_cron.status_code == 400 and "cron_expression" in bad_cron.json()["errors"]
    assert bad_regex.status_code == 400
    assert "Invalid regex" in bad_regex.json()["errors"]["body_value"][0]
    assert not EmailTask.objects.exists()


def test_the_api_refuses_to_delete_a_connection_used_by_a_task_naming_it(api, outgoing):
    save(EmailTask(name="Sender", connection=outgoing, to="a@example.com", body="x"))

    response = api.delete(f"/api/v1/connections/{outgoing.pk}/")

    assert response.status_code == 409
    assert response.json()["errors"] == {"used_by": ['Email Task "Sender"']}


def test_runs_of_a_task_in_another_teams_service_are_not_listed(api, outgoing):
    from tests.factories import make_service

    hidden = save(
        EmailTask(name="Theirs", connection=outgoing, to="a@example.com", body="x"),
        services=[make_service(name="Other team")],
    )
    from connections.tasks import runs

    runs.start(hidden, None)

    assert api.get("/api/v1/runs/").json()["results"] == []
    assert api.post(f"/api/v1/email-tasks/{hidden.pk}/run/", {}).status_code == 404


def test_the_admin_lists_and_changes_tasks_with_history(admin_client_logged, outgoing):
    task = save(EmailTask(name="Admin task", connection=outgoing, to="a@example.com", body="x"))

    listed = admin_client_logged.get(reverse("admin:connections_emailtask_changelist"))
    history = admin_client_logged.get(
        reverse("admin:connections_emailtask_history", args=[task.pk])
    )

    assert "Admin task" in text(listed)
    assert history.status_code == 200


def test_a_scheduled_task_runs_through_a_real_worker_process(
    worker: subprocess.Popen,  # noqa: F811
    smtp_plain,
    tmp_path: Path,
) -> None:
    connection = make_connection(smtp_server=smtp_plain.host, smtp_port=smtp_plain.port)
    task = save(
        EmailTask(
            name="Every minute",
            connection=connection,
            to="ops@example.com",
            subject="Scheduled",
            body="From the schedule",
            schedule="interval",
            interval_minutes=1,
        )
    )
    EmailTask.objects.filter(pk=task.pk).update(next_run_at=timezone.now())

    jobs.run_scheduled_tasks()  # what the worker's scheduler enqueues every minute

    def run_ended() -> bool:
        assert worker.poll() is None, (tmp_path / "run_huey.log").read_text()
        return TaskRun.objects.filter(status__in=["succeeded", "failed"]).exists()

    wait_until(run_ended, "the worker to run the scheduled task", tmp_path / "run_huey.log")
    run = TaskRun.objects.get()
    assert run.status == "succeeded", run.message
    assert (run.trigger, run.triggered_by) == ("schedule", None)
    [received] = smtp_plain.messages
    assert received.message["Subject"] == "Scheduled"
    task.refresh_from_db()
    assert task.next_run_at > timezone.now()


def test_the_template_preview_fills_the_typed_values_and_marks_unknown_placeholders(
    client, operator
):
    template = make_template(
        make_connection(), to="${team}@example.com", subject="Job ${job}", body="On ${host}"
    )
    client.force_login(operator)

    page = client.get(
        reverse("connections:emailtemplate-preview", args=[template.pk]), {"values": "team=ops"}
    )

    body = page.content.decode()
    assert "ops@example.com" in body
    assert '<mark class="placeholder-unknown" title="No value for job">${job}</mark>' in body
    assert "No value for ${host}, ${job}" in text(page)


def test_send_test_sends_the_rendered_template_to_one_address(client, operator, smtp_plain):
    connection = make_connection(smtp_server=smtp_plain.host, smtp_port=smtp_plain.port)
    template = make_template(
        connection, to="ops@example.com", cc="boss@example.com", subject="Hi ${who}", body="x"
    )
    client.force_login(operator)

    page = client.post(
        reverse("connections:emailtemplate-preview", args=[template.pk]),
        {"values": "who=tester", "recipient": "me@example.com"},
    )

    assert page.status_code == 200
    assert "Sent" in text(page)
    [received] = smtp_plain.messages
    assert received.rcpt_tos == ["me@example.com"]
    assert received.message["Subject"] == "Hi tester"


def test_send_test_without_one_address_sends_nothing(client, operator, smtp_plain):
    connection = make_connection(smtp_server=smtp_plain.host, smtp_port=smtp_plain.port)
    template = make_template(connection)
    client.force_login(operator)

    page = client.post(
        reverse("connections:emailtemplate-preview", args=[template.pk]),
        {"values": "", "recipient": "a@example.com, b@example.com"},
    )

    assert "Give one email address" in text(page)
    assert smtp_plain.messages == []
    assert EmailConnection.objects.count() == 1
