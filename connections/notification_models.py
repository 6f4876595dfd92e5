"""Notifications (SPEC 2.6, 7): who is told of which change of state, and what was sent.

`NotificationSettings` is one record (history, its own permission) naming the recipients of
each kind of event; `Notification` is the log of every mail sent or failed.
"""

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone

from connections.models import Record, history, split_addresses


class Event(models.TextChoices):
    CONNECTION_FAILING = "connection_failing", "Connection starts failing"
    CONNECTION_RECOVERED = "connection_recovered", "Connection recovers"
    AUTHORIZATION_FAILED = "authorization_failed", "Reauthorization needed"
    AUTHORIZED_AGAIN = "authorized_again", "Authorized again"
    TASK_FAILED = "task_failed", "Task run fails"
    TASK_RECOVERED = "task_recovered", "Task succeeds again"


# Each recipient list of the settings covers both directions of one state.
TOPICS = {
    Event.CONNECTION_FAILING: "connection",
    Event.CONNECTION_RECOVERED: "connection",
    Event.AUTHORIZATION_FAILED: "authorization",
    Event.AUTHORIZED_AGAIN: "authorization",
    Event.TASK_FAILED: "task",
    Event.TASK_RECOVERED: "task",
}
TOPIC_LABELS = {
    "connection": "Connection fails or recovers",
    "authorization": "OAuth authorization needs renewal or is renewed",
    "task": "Task run fails or recovers",
}


def addresses_field(topic: str) -> models.TextField:
    return models.TextField(
        f"{TOPIC_LABELS[topic]}: Addresses",
        blank=True,
        help_text="Comma-separated addresses.",
    )


def users_field(topic: str) -> models.ManyToManyField:
    return models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=f"{TOPIC_LABELS[topic]}: Users",
        blank=True,
        related_name=f"notified_of_{topic}",
    )


def groups_field(topic: str) -> models.ManyToManyField:
    return models.ManyToManyField(
        Group,
        verbose_name=f"{TOPIC_LABELS[topic]}: Groups",
        blank=True,
        related_name=f"notified_of_{topic}",
    )


class NotificationSettings(Record):
    """The one record of recipients per event (none given: the superusers' addresses)."""

    connection_addresses = addresses_field("connection")
    connection_users = users_field("connection")
    connection_groups = groups_field("connection")
    authorization_addresses = addresses_field("authorization")
    authorization_users = users_field("authorization")
    authorization_groups = groups_field("authorization")
    task_addresses = addresses_field("task")
    task_users = users_field("task")
    task_groups = groups_field("task")

    NAME = "Notification Settings"
    history = history(
        m2m=tuple(f"{topic}_{kind}" for topic in TOPIC_LABELS for kind in ("users", "groups"))
    )

    class Meta(Record.Meta):
        verbose_name = "Notification Settings"
        verbose_name_plural = "Notification Settings"

    def get_absolute_url(self) -> str:
        return reverse("connections:notification-settings")

    @classmethod
    def current(cls) -> "NotificationSettings":
        """The stored settings, or unsaved empty ones (the defaults) before the first save."""
        return cls.objects.first() or cls(name=cls.NAME)

    def clean(self) -> None:
        self.name = self.NAME
        super().clean()
        errors = {}
        for topic in TOPIC_LABELS:
            name = f"{topic}_addresses"
            good, bad = split_addresses(getattr(self, name))
            if bad:
                errors[name] = f"Not a valid email address: {', '.join(bad)}"
            else:
                setattr(self, name, ", ".join(good))
        if errors:
            raise ValidationError(errors)

    def recipients(self, event: str) -> list[str]:
        """The addresses told of event: those given, the users', the groups' members'."""
        topic = TOPICS[event]
        found, _ = split_addresses(getattr(self, f"{topic}_addresses"))
        if self.pk:
            users = list(getattr(self, f"{topic}_users").all())
            for group in getattr(self, f"{topic}_groups").all():
                users += list(group.user_set.filter(is_active=True))
            found += [u.email for u in users if u.email and u.is_active]
        return found


class Status(models.TextChoices):
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"


class Notification(models.Model):
    """One notification mail: what it says, to whom, and whether it went out."""

    created_at = models.DateTimeField("Created", default=timezone.now)
    event = models.CharField("Event", max_length=30, choices=Event.choices)
    record_type = models.CharField("Record Type", max_length=50)
    record_name = models.CharField("Record", max_length=100)
    link = models.CharField("Link", max_length=1000, blank=True)
    subject = models.CharField("Subject", max_length=500)
    body = models.TextField("Body")
    recipients = models.TextField("Recipients")
    status = models.CharField("Status", max_length=10, choices=Status.choices)
    attempts = models.PositiveIntegerField("Attempts", default=0)
    error = models.TextField("Last Error", blank=True)
    sent_at = models.DateTimeField("Sent", null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["created_at"], name="connections_notification_at")]

    def __str__(self) -> str:
        return self.subject
