"""Tasks that use connections (SPEC 2.5): Email Task, Email Monitor Task, and their runs.

Both task types are records (versions, Business Services, metadata) with a schedule. What
changes while a task runs (the next due time, the last run, a monitor's UIDVALIDITY and
last UID) is runtime state: kept on the row, never versioned, never written back by an edit.
"""

from datetime import UTC, datetime, timedelta

from cronsim import CronSim, CronSimError
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from connections.models import (
    EmailConnection,
    EmailTemplate,
    GroupedRecord,
    Record,
    RecordQuerySet,
    history,
    split_addresses,
)
from connections.tasks import monitor, render


class Schedule(models.TextChoices):
    NONE = "none", "None (Run now only)"
    INTERVAL = "interval", "Every N minutes"
    CRON = "cron", "Cron expression"


class RunStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


ENDED = (RunStatus.SUCCEEDED, RunStatus.FAILED)


def cron_error(expression: str) -> str:
    """Why expression is not a 5-field cron expression, or "" when it is."""
    fields = expression.split()
    if len(fields) != 5:
        return (
            "Give 5 fields: minute hour day-of-month month day-of-week (e.g. */15 * * * *), "
            f"not {len(fields)}."
        )
    try:
        next(CronSim(" ".join(fields), timezone.now()))
    except (CronSimError, StopIteration) as exc:
        return f"Invalid cron expression: {exc or 'it never matches'}."
    return ""


class ScheduledTask(GroupedRecord):
    """A task's schedule and run state, shared by both task types."""

    schedule = models.CharField(
        "Schedule", max_length=10, choices=Schedule.choices, default=Schedule.NONE
    )
    interval_minutes = models.PositiveIntegerField(
        "Every (minutes)", null=True, blank=True, validators=[MinValueValidator(1)]
    )
    cron_expression = models.CharField(
        "Cron Expression",
        max_length=100,
        blank=True,
        help_text="5 fields, in UTC: minute hour day-of-month month day-of-week "
        "(e.g. 0 6 * * 1-5).",
    )
    enabled = models.BooleanField(
        "Enabled", default=True, help_text="Off: the schedule does not run the task."
    )
    notify_addresses = models.TextField(
        "Also Notify",
        blank=True,
        help_text="Comma-separated addresses told when a run fails or the task recovers, "
        "besides the Notification Settings' recipients.",
    )

    # Runtime state (not versioned).
    next_run_at = models.DateTimeField("Next Run", null=True, editable=False)
    last_run_at = models.DateTimeField("Last Run", null=True, editable=False)
    last_run_status = models.CharField(
        "Last Run Status", max_length=10, choices=RunStatus.choices, blank=True, editable=False
    )

    state_fields: tuple[str, ...] = ("next_run_at", "last_run_at", "last_run_status")

    class Meta(GroupedRecord.Meta):
        abstract = True

    def schedule_key(self) -> tuple:
        return (self.schedule, self.interval_minutes, self.cron_expression.strip(), self.enabled)

    def due_after(self, moment: datetime) -> datetime | None:
        """The first due time after moment, or None without an enabled schedule."""
        if not self.enabled:
            return None
        if self.schedule == Schedule.INTERVAL and self.interval_minutes:
            return moment + timedelta(minutes=self.interval_minutes)
        if self.schedule == Schedule.CRON and not cron_error(self.cron_expression):
            start = moment.astimezone(UTC).replace(second=0, microsecond=0)
            return next(CronSim(" ".join(self.cron_expression.split()), start), None)
        return None

    def following(self, due: datetime, now: datetime) -> datetime | None:
        """The due time after a claimed one: missed times are skipped, never caught up."""
        if self.schedule == Schedule.INTERVAL and self.interval_minutes and self.enabled:
            step = timedelta(minutes=self.interval_minutes)
            missed = max(0, int((now - due) / step))
            return due + step * (missed + 1)
        return self.due_after(max(due, now))

    def bind_to(self, current: "ScheduledTask") -> None:
        # A changed schedule starts counting from the change.
        if self.schedule_key() != current.schedule_key():
            self.next_run_at = self.due_after(timezone.now())

    def applicable_fields(self) -> set[str]:
        return {
            Schedule.NONE: set(),
            Schedule.INTERVAL: {"interval_minutes", "enabled"},
            Schedule.CRON: {"cron_expression", "enabled"},
        }.get(self.schedule, set())

    @classmethod
    def field_rules(cls) -> dict:
        """Which schedule fields the form shows for each Schedule (record_form.js)."""
        return {
            "controls": ["schedule"],
            "rules": {s: sorted(cls(schedule=s).applicable_fields()) for s in Schedule.values},
            "required": {
                s: sorted(cls(schedule=s).applicable_fields() - {"enabled"})
                for s in Schedule.values
            },
        }

    def clean(self) -> None:
        super().clean()
        errors = self.schedule_errors()
        notify, bad = split_addresses(self.notify_addresses)
        if bad:
            errors["notify_addresses"] = f"Not a valid email address: {', '.join(bad)}"
        self.notify_addresses = ", ".join(notify)
        if errors:
            raise ValidationError(errors)

    def schedule_errors(self) -> dict[str, str]:
        errors = {}
        if self.schedule == Schedule.INTERVAL:
            if self.interval_minutes is None or self.interval_minutes < 1:
                errors["interval_minutes"] = "Give the interval in whole minutes, 1 or more."
        else:
            self.interval_minutes = None
        if self.schedule == Schedule.CRON:
            self.cron_expression = " ".join(self.cron_expression.split())
            error = cron_error(self.cron_expression)
            if error:
                errors["cron_expression"] = error
        else:
            self.cron_expression = ""
        if not errors and self._state.adding:
            self.next_run_at = self.due_after(timezone.now())
        return errors

    def get_last_run_display(self) -> str:
        return self.get_last_run_status_display() if self.last_run_status else "never"

    def schedule_display(self) -> str:
        """The schedule in words: "Every 15 minutes", "Cron 0 6 * * 1-5", "None"."""
        if self.schedule == Schedule.INTERVAL:
            text = (
                f"Every {self.interval_minutes} minute{'s' if self.interval_minutes != 1 else ''}"
            )
        elif self.schedule == Schedule.CRON:
            text = f"Cron {self.cron_expression}"
        else:
            return "None"
        return text if self.enabled else f"{text} (disabled)"


class EmailTaskQuerySet(RecordQuerySet):
    def using_connection(self, connection: EmailConnection) -> "EmailTaskQuerySet":
        """The Email Tasks that send through connection: their own, or their template's."""
        return self.filter(
            Q(connection=connection) | Q(connection__isnull=True, template__connection=connection)
        )


class EmailTask(ScheduledTask):
    connection = models.ForeignKey(
        EmailConnection,
        verbose_name="Email Connection",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="email_tasks",
        help_text="Outgoing. Blank: the Email Template's connection.",
    )
    template = models.ForeignKey(
        EmailTemplate,
        verbose_name="Email Template",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="tasks",
        help_text="Optional: what the task sends unless it sets a field itself.",
    )
    reply_to = models.CharField("Reply-To", max_length=1000, blank=True)
    to = models.CharField("To", max_length=2000, blank=True)
    cc = models.CharField("CC", max_length=2000, blank=True)
    bcc = models.CharField("BCC", max_length=2000, blank=True)
    subject = models.CharField("Subject", max_length=500, blank=True)
    body = models.TextField("Body", blank=True)
    variables = models.JSONField(
        "Variables",
        default=dict,
        blank=True,
        help_text="Values of the ${name} placeholders; values given at Run now win.",
    )

    objects = EmailTaskQuerySet.as_manager()
    history = history(*ScheduledTask.state_fields)

    class Meta(ScheduledTask.Meta):
        verbose_name = "Email Task"
        permissions = [
            ("run_emailtask", "Can run email task"),
            ("restore_emailtask", "Can restore versions of email task"),
        ]

    def sending_connection(self) -> EmailConnection | None:
        """The connection a run sends through: the task's own, else the template's."""
        if self.connection_id:
            return self.connection
        return self.template.connection if self.template_id else None

    def draft(self) -> render.Draft:
        """The task merged over its template: what a run renders."""
        template = render.Draft.of(self.template) if self.template_id else None
        return render.merged(template, render.Draft.of(self))

    def clean(self) -> None:
        errors: dict[str, str] = {}
        try:
            super().clean()
        except ValidationError as exc:
            errors = {k: " ".join(v) for k, v in exc.message_dict.items()}
        if not self.connection_id and not self.template_id:
            errors["connection"] = "Choose an Email Connection or an Email Template."
        connection = self.sending_connection()
        if connection is not None and not connection.is_outgoing:
            errors["connection"] = "Choose an Outgoing connection: an Email Task sends mail."
        for name in EmailTemplate.ADDRESS_FIELDS:
            value = getattr(self, name)
            # a part with a placeholder is an address only once rendered (checked at run)
            parts = [p for p in value.replace(";", ",").split(",") if "$" not in p]
            _, bad = split_addresses(",".join(parts))
            if bad:
                errors[name] = f"Not a valid email address: {', '.join(bad)}"
            else:
                parts = [p.strip() for p in value.replace(";", ",").split(",")]
                setattr(self, name, ", ".join(p for p in parts if p))
        draft = self.draft()
        if not any(getattr(draft, f).strip() for f in ("to", "cc", "bcc")):
            errors.setdefault(
                "to", "Give at least one recipient in To, CC or BCC (here or in the template)."
            )
        if not draft.body.strip():
            errors.setdefault("body", "Give a Body (here or in the template).")
        bad_names = [n for n in self.variables_dict() if not render.is_name(n)]
        if not isinstance(self.variables, dict):
            errors["variables"] = "Give name/value pairs."
        elif bad_names:
            errors["variables"] = (
                f"Not a placeholder name: {', '.join(bad_names)} (letters, digits and _, "
                "not starting with a digit)."
            )
        if errors:
            raise ValidationError(errors)

    def variables_dict(self) -> dict[str, str]:
        if not isinstance(self.variables, dict):
            return {}
        return {str(k): str(v) for k, v in self.variables.items()}


MONITOR_FIELDS = tuple(monitor.Field.values)


def criterion_fields(field: str) -> tuple[str, str]:
    """The two columns of a criterion on field: its operator and its value."""
    return f"{field}_operator", f"{field}_value"


def criterion_operator(label: str) -> models.CharField:
    return models.CharField(
        f"{label}: Operator", max_length=10, choices=monitor.Operator.choices, blank=True
    )


def criterion_value(label: str) -> models.CharField:
    return models.CharField(f"{label}: Value", max_length=1000, blank=True)


class EmailMonitorTask(ScheduledTask):
    connection = models.ForeignKey(
        EmailConnection,
        verbose_name="Email Connection",
        on_delete=models.PROTECT,
        related_name="monitor_tasks",
        help_text="Incoming: the mailbox to watch.",
    )
    folder = models.CharField("Folder", max_length=255, default="INBOX")
    action = models.CharField(
        "Action",
        max_length=20,
        choices=monitor.Action.choices,
        default=monitor.Action.MARK_READ,
        help_text="Done to each unseen mail matching every criterion. Delete moves it to the "
        "connection's Trash Folder.",
    )
    move_folder = models.CharField("Move to Folder", max_length=255, blank=True)
    # The criteria on From/To/CC/Subject/Body: an operator (blank: not used) and a value.
    from_operator = criterion_operator("From")
    from_value = criterion_value("From")
    to_operator = criterion_operator("To")
    to_value = criterion_value("To")
    cc_operator = criterion_operator("CC")
    cc_value = criterion_value("CC")
    subject_operator = criterion_operator("Subject")
    subject_value = criterion_value("Subject")
    body_operator = criterion_operator("Body")
    body_value = criterion_value("Body")

    # Runtime state (not versioned): the mails handled so far.
    uidvalidity = models.BigIntegerField("UIDVALIDITY", default=0, editable=False)
    last_uid = models.BigIntegerField("Last UID Handled", default=0, editable=False)

    state_fields = (*ScheduledTask.state_fields, "uidvalidity", "last_uid")
    history = history(*state_fields)

    class Meta(ScheduledTask.Meta):
        verbose_name = "Email Monitor Task"
        permissions = [
            ("run_emailmonitortask", "Can run email monitor task"),
            ("restore_emailmonitortask", "Can restore versions of email monitor task"),
        ]

    def bind_to(self, current: "EmailMonitorTask") -> None:
        super().bind_to(current)
        # The UIDs handled so far belong to the mailbox and folder they were read from.
        if (self.connection_id, self.folder) != (current.connection_id, current.folder):
            self.uidvalidity = self.last_uid = 0

    def criteria(self) -> list[monitor.Criterion]:
        found = []
        for field in MONITOR_FIELDS:
            op_name, value_name = criterion_fields(field)
            operator = getattr(self, op_name)
            if operator:
                found.append(monitor.Criterion(field, operator, getattr(self, value_name)))
        return found

    def watch(self) -> monitor.Watch:
        return monitor.Watch(self.folder, self.criteria(), self.action, self.move_folder)

    def state(self) -> monitor.State:
        return monitor.State(self.uidvalidity, self.last_uid)

    def applicable_fields(self) -> set[str]:
        fields = super().applicable_fields()
        if self.action in monitor.MOVES:
            fields.add("move_folder")
        return fields

    @classmethod
    def field_rules(cls) -> dict:
        probes = {
            f"{s}|{a}": cls(schedule=s, action=a)
            for s in Schedule.values
            for a in monitor.Action.values
        }
        return {
            "controls": ["schedule", "action"],
            "rules": {k: sorted(p.applicable_fields()) for k, p in probes.items()},
            "required": {k: sorted(p.applicable_fields() - {"enabled"}) for k, p in probes.items()},
        }

    def clean(self) -> None:
        errors: dict[str, str] = {}
        try:
            super().clean()
        except ValidationError as exc:
            errors = {k: " ".join(v) for k, v in exc.message_dict.items()}
        if self.connection_id and self.connection.is_outgoing:
            errors["connection"] = "Choose an Incoming connection: a monitor reads a mailbox."
        self.folder = self.folder.strip()
        if not self.folder:
            errors["folder"] = "Give the Folder to watch (e.g. INBOX)."
        for criterion in self.criteria():
            found = monitor.problems(monitor.Watch("INBOX", [criterion]))
            if found:
                errors[criterion_fields(criterion.field)[1]] = " ".join(found)
        if self.action in monitor.MOVES:
            found = monitor.problems(
                monitor.Watch(self.folder or "INBOX", [], self.action, self.move_folder)
            )
            if found:
                errors["move_folder"] = " ".join(found)
        else:
            self.move_folder = ""
        if (
            self.action in monitor.DELETES
            and self.connection_id
            and not self.connection.trash_folder.strip()
        ):
            errors["action"] = (
                "Delete moves mails to the connection's Trash Folder, and it has none: set the "
                "Trash Folder on the connection first."
            )
        if errors:
            raise ValidationError(errors)


class Trigger(models.TextChoices):
    USER = "user", "User"
    SCHEDULE = "schedule", "Schedule"


class TaskRunQuerySet(models.QuerySet):
    def visible_to(self, user: settings.AUTH_USER_MODEL) -> "TaskRunQuerySet":
        """The runs of the tasks a user may see."""
        if user.is_superuser:
            return self
        return self.filter(
            Q(email_task__in=EmailTask.objects.visible_to(user))
            | Q(monitor_task__in=EmailMonitorTask.objects.visible_to(user))
        )


class TaskRun(models.Model):
    """One run of a task: who or what started it, when, and the engine's report."""

    email_task = models.ForeignKey(
        EmailTask, null=True, blank=True, on_delete=models.CASCADE, related_name="runs"
    )
    monitor_task = models.ForeignKey(
        EmailMonitorTask, null=True, blank=True, on_delete=models.CASCADE, related_name="runs"
    )
    task_version = models.PositiveIntegerField("Task Version")
    trigger = models.CharField("Trigger", max_length=10, choices=Trigger.choices)
    triggered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name="Run By",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    due_at = models.DateTimeField("Due", null=True, blank=True)
    values = models.JSONField("Run now values", default=dict, blank=True)
    status = models.CharField(
        "Status", max_length=10, choices=RunStatus.choices, default=RunStatus.QUEUED
    )
    queued_at = models.DateTimeField("Queued", default=timezone.now)
    started_at = models.DateTimeField("Started", null=True, blank=True)
    ended_at = models.DateTimeField("Ended", null=True, blank=True)
    message = models.TextField("Message", blank=True)
    message_id = models.CharField("Message ID", max_length=255, blank=True)
    report = models.JSONField("Report", null=True, blank=True, encoder=DjangoJSONEncoder)

    objects = TaskRunQuerySet.as_manager()

    class Meta:
        verbose_name = "Task Run"
        ordering = ["-queued_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(email_task__isnull=True) ^ Q(monitor_task__isnull=True),
                name="connections_taskrun_one_task",
            )
        ]
        indexes = [models.Index(fields=["queued_at"], name="connections_taskrun_queued")]

    def __str__(self) -> str:
        return f"Run {self.pk} of {self.task}"

    def get_absolute_url(self) -> str:
        return reverse("connections:taskrun-detail", args=[self.pk])

    @property
    def task(self) -> Record:
        return self.email_task or self.monitor_task

    @property
    def ended(self) -> bool:
        return self.status in ENDED

    @property
    def trigger_display(self) -> str:
        if self.trigger == Trigger.SCHEDULE:
            return "Schedule"
        return f"User {self.triggered_by}" if self.triggered_by else "User"
