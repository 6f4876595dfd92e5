"""Running tasks: Run now, the schedules, one run on the worker, pruning old runs.

A run is a TaskRun row first (Queued), then a worker job (`jobs.run_task`) that claims it,
runs the engine (sending.send or monitor.run) on the task and connection as they are now,
and stores the report. Nothing a run meets (a connection needing authorization, a server
that fails, a bug) escapes the job: the run ends Failed, saying why.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from connections import notifications
from connections.mail.report import Report, Stage
from connections.task_models import (
    ENDED,
    EmailMonitorTask,
    EmailTask,
    RunStatus,
    Schedule,
    ScheduledTask,
    TaskRun,
    Trigger,
)
from connections.tasks import monitor, render, sending

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

logger = logging.getLogger(__name__)
TASK_MODELS: tuple[type[ScheduledTask], ...] = (EmailTask, EmailMonitorTask)
# A run's stages are bounded (MAIL_TEST_TOTAL_TIMEOUT); one Running far longer was abandoned.
ABANDONED_AFTER = timedelta(minutes=30)
ABANDONED = (
    "The worker stopped during the run (it was still running after 30 minutes): run it again."
)
# A monitor run waits this long for the task's previous run (each is bounded by the probe's
# MAIL_TEST_TOTAL_TIMEOUT); then it gives up without touching the mailbox.
LOCK_WAIT = 120.0
ANOTHER_RUN = (
    "Another run of this task was still running after 2 minutes: this run did nothing, so "
    "that no mail is acted on twice. Run it again."
)


class BadValues(ValueError):
    """Run now values that are not name/value pairs of placeholder names."""


def clean_values(values: Mapping[str, object] | None) -> dict[str, str]:
    values = dict(values or {})
    bad = [name for name in values if not render.is_name(str(name))]
    if bad:
        raise BadValues(
            f"Not a placeholder name: {', '.join(map(str, bad))} (letters, digits and _, "
            "not starting with a digit)."
        )
    return {str(k): str(v) for k, v in values.items()}


def task_field(task: ScheduledTask) -> str:
    return "email_task" if isinstance(task, EmailTask) else "monitor_task"


@transaction.atomic
def start(
    task: ScheduledTask,
    user: AbstractBaseUser | None = None,
    values: Mapping[str, object] | None = None,
    due_at: datetime | None = None,
) -> TaskRun:
    """A Queued run of task, handed to the worker once this transaction commits."""
    from connections.tasks import jobs
    from connections.worker import enqueue_after_commit

    run = TaskRun.objects.create(
        **{task_field(task): task},
        task_version=task.version,
        trigger=Trigger.SCHEDULE if user is None else Trigger.USER,
        triggered_by=user,
        due_at=due_at,
        values=clean_values(values) if isinstance(task, EmailTask) else {},
    )
    enqueue_after_commit(jobs.run_task, run.pk)
    return run


def execute(run_id: int) -> TaskRun | None:
    """Run a Queued run (once, whichever worker gets it first) and store how it ended."""
    now = timezone.now()
    claimed = TaskRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING, started_at=now
    )
    if not claimed:
        return None
    run = TaskRun.objects.select_related("email_task", "monitor_task").get(pk=run_id)
    task = run.task
    type(task).objects.filter(pk=task.pk).update(last_run_at=now, last_run_status=RunStatus.RUNNING)
    try:
        report = _run_engine(run)
        status = RunStatus.SUCCEEDED if report.ok else RunStatus.FAILED
        message = _summary(report)
        run.report = report.to_dict()
        run.message_id = getattr(report, "message_id", "") or ""
    except AnotherRunRunning as exc:
        status, message = RunStatus.FAILED, str(exc)
    except Exception:
        # the worker carries on; the operator sees that the run failed, not a traceback
        logger.exception("Run %s of %s failed unexpectedly", run.pk, task)
        status = RunStatus.FAILED
        message = "The run stopped on an unexpected error (logged on the worker)."
    run.status, run.message, run.ended_at = status, message, timezone.now()
    run.save(update_fields=["status", "message", "ended_at", "report", "message_id"])
    type(task).objects.filter(pk=task.pk).update(last_run_status=status)
    before = previous_status(run)
    notifications.task_ended(task, before, status, message)
    return run


def previous_status(run: TaskRun) -> str:
    """How the task's run before this one ended ("" for none)."""
    runs = TaskRun.objects.filter(status__in=ENDED, ended_at__lt=run.ended_at).exclude(pk=run.pk)
    runs = runs.filter(email_task=run.email_task_id, monitor_task=run.monitor_task_id)
    last = runs.order_by("-ended_at", "-pk").values_list("status", flat=True).first()
    return last or ""


def _run_engine(run: TaskRun) -> Report:
    # The task as it is now (its current connection): the run may have waited in the queue.
    if run.email_task_id:
        task = EmailTask.objects.select_related("connection", "template__connection").get(
            pk=run.email_task_id
        )
        connection = task.sending_connection()
        values = render.variables(task.variables_dict(), run.values)
        return sending.send(connection, task.draft(), values)
    with monitor_lock(run.monitor_task_id):
        # read inside the lock: the state a run before this one may just have stored
        task = EmailMonitorTask.objects.select_related("connection").get(pk=run.monitor_task_id)
        report = monitor.run(task.connection, task.watch(), task.state())
        # the mails handled so far, even by a run that failed part way
        EmailMonitorTask.objects.filter(pk=task.pk).update(
            uidvalidity=report.uidvalidity, last_uid=report.last_uid
        )
    return report


class AnotherRunRunning(Exception):
    pass


@contextmanager
def monitor_lock(task_id: int, wait: float | None = None) -> Iterator[None]:
    """One run of a monitor task at a time, on any worker: two at once would both see the
    same unseen mails and act on them twice. A run waits for the one before it."""
    from huey.exceptions import TaskLockedException

    from connections.worker import HUEY

    lock = HUEY.lock_task(f"monitor-task-{task_id}")
    deadline = time.monotonic() + (LOCK_WAIT if wait is None else wait)
    while True:
        try:
            lock.__enter__()
            break
        except TaskLockedException:
            if time.monotonic() > deadline:
                raise AnotherRunRunning(ANOTHER_RUN) from None
            time.sleep(0.2)
    try:
        yield
    finally:
        lock.__exit__(None, None, None)


def _summary(report: Report) -> str:
    failed = report.failed_stage
    if failed is not None:
        return failed.hint or f"Failed at {failed.name}."
    if isinstance(report, monitor.MonitorReport):
        return f"Mails examined: {report.examined}; matched and handled: {report.matched}."
    if isinstance(report, sending.Delivery):
        count = len(report.recipients)
        return f"Sent to {count} recipient{'s' if count != 1 else ''} as {report.message_id}."
    return "Done."


def enqueue_due(now: datetime | None = None) -> list[TaskRun]:
    """A run for every scheduled task that is due, once per due time however many workers
    call this at once: each due time is claimed by moving next_run_at on, conditionally."""
    now = now or timezone.now()
    started = []
    for model in TASK_MODELS:
        due = model.objects.filter(enabled=True, next_run_at__lte=now).exclude(
            schedule=Schedule.NONE
        )
        for task in due.order_by("next_run_at", "pk"):
            with transaction.atomic():
                if claim(task, now):
                    started.append(start(task, None, due_at=task.next_run_at))
    return started


def fail_abandoned(now: datetime | None = None) -> int:
    """Runs still Running long after any run could have ended (the worker stopped during
    them) end Failed, saying so; returns how many."""
    now = now or timezone.now()
    abandoned = TaskRun.objects.filter(
        status=RunStatus.RUNNING, started_at__lt=now - ABANDONED_AFTER
    ).select_related("email_task", "monitor_task")
    count = 0
    for run in abandoned:
        with transaction.atomic():
            ended = TaskRun.objects.filter(pk=run.pk, status=RunStatus.RUNNING).update(
                status=RunStatus.FAILED, ended_at=now, message=ABANDONED
            )
            if ended:
                count += 1
                task = run.task
                type(task).objects.filter(pk=task.pk, last_run_status=RunStatus.RUNNING).update(
                    last_run_status=RunStatus.FAILED
                )
    return count


def claim(task: ScheduledTask, now: datetime) -> bool:
    """Move task's next_run_at past now, if no one else has: True for the one caller that
    moved it (the conditional UPDATE is atomic on every database)."""
    following = task.following(task.next_run_at, now)
    moved = type(task).objects.filter(pk=task.pk, next_run_at=task.next_run_at)
    return bool(moved.update(next_run_at=following))


def purge(keep_days: int, now: datetime | None = None) -> int:
    """Delete the ended runs queued more than keep_days ago; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=keep_days)
    return TaskRun.objects.filter(queued_at__lt=cutoff, status__in=ENDED).delete()[0]


def report_of(data: Mapping[str, object] | None) -> Report | None:
    """A stored report (TaskRun.report) as the Test report's template reads it."""
    if not data:
        return None
    stages = [Stage(**stage) for stage in data.get("stages", [])]
    keys = ("protocol", "host", "port", "ok", "sent", "duration_ms")
    return Report(**{k: data[k] for k in keys if k in data}, stages=stages)
