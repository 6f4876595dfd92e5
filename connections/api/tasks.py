"""The API of the tasks: /api/v1/email-tasks/, /api/v1/email-monitor-tasks/ (the record
conventions, plus POST .../{id}/run/) and /api/v1/runs/ (read-only, with filters)."""

from typing import Any

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from connections.api.fields import ReferenceField, StrictCharField
from connections.api.filters import FilterBackend, IdFilter, UtcDateTimeFilter, service_filter
from connections.api.permissions import READ, access_for
from connections.api.serializers import RecordSerializer, address_list, services_field, visible
from connections.api.views import Pagination, RecordViewSet, kind_search
from connections.filters import EmailMonitorTaskFilter, EmailTaskFilter
from connections.models import (
    EmailConnection,
    EmailMonitorTask,
    EmailTask,
    EmailTemplate,
    TaskRun,
)
from connections.task_models import MONITOR_FIELDS, RunStatus, Trigger, criterion_fields
from connections.tasks import runs

RUN = "write", "run"
STATE = ("next_run_at", "last_run_at", "last_run_status")
SCHEDULE = ("schedule", "interval_minutes", "cron_expression", "enabled")
READ_ONLY = (*RecordSerializer.metadata[:2], *RecordSerializer.metadata[3:], *STATE)


def pairs_field(help_text: str) -> serializers.DictField:
    return serializers.DictField(
        child=StrictCharField(allow_blank=True, max_length=2000),
        required=False,
        help_text=help_text,
    )


class TrueFalseField(forms.NullBooleanField):
    """`true` or `false` as the schema says; the pages' select also took "null" or "2"."""

    widget = forms.TextInput

    def to_python(self, value: Any) -> bool | None:
        if value in self.empty_values:
            return None
        if value in ("true", "false"):
            return value == "true"
        raise ValidationError("Give true or false.", code="invalid")


class TrueFalseFilter(django_filters.BooleanFilter):
    field_class = TrueFalseField


def api_filters(base: type[django_filters.FilterSet]) -> type[django_filters.FilterSet]:
    """A list filter of the pages as the API takes it: ids and booleans as the schema says."""
    return type(
        f"Api{base.__name__}",
        (base,),
        {"business_services": service_filter(), "enabled": TrueFalseFilter(label="Enabled")},
    )


class EmailTaskSerializer(RecordSerializer):
    """An Email Task: a message sent through an Outgoing connection, from a template or not."""

    connection = ReferenceField(
        required=False,
        allow_null=True,
        queryset=EmailConnection.objects.all(),
        scope=visible,
        help_text="Id of the Outgoing Email Connection; null: the template's.",
    )
    template = ReferenceField(
        required=False,
        allow_null=True,
        queryset=EmailTemplate.objects.all(),
        scope=visible,
        help_text="Id of the Email Template; fields set on the task override it.",
    )
    variables = pairs_field("Values of the ${name} placeholders (name -> value).")
    business_services = services_field()
    notify_addresses = address_list("Also Notify: addresses told when a run fails or recovers.")

    class Meta:
        model = EmailTask
        fields = (
            *RecordSerializer.metadata,
            "name",
            "description",
            "business_services",
            "template",
            "connection",
            "reply_to",
            "to",
            "cc",
            "bcc",
            "subject",
            "body",
            "variables",
            *SCHEDULE,
            "notify_addresses",
            *STATE,
        )
        read_only_fields = READ_ONLY


class EmailMonitorTaskSerializer(RecordSerializer):
    """An Email Monitor Task: unseen mails of a folder matching every criterion, acted on."""

    connection = ReferenceField(
        queryset=EmailConnection.objects.all(),
        scope=visible,
        help_text="Id of the Incoming Email Connection watched.",
    )
    business_services = services_field()
    notify_addresses = address_list("Also Notify: addresses told when a run fails or recovers.")

    class Meta:
        model = EmailMonitorTask
        fields = (
            *RecordSerializer.metadata,
            "name",
            "description",
            "business_services",
            "connection",
            "folder",
            *(name for field in MONITOR_FIELDS for name in criterion_fields(field)),
            "action",
            "move_folder",
            *SCHEDULE,
            "notify_addresses",
            *STATE,
            "uidvalidity",
            "last_uid",
        )
        read_only_fields = (*READ_ONLY, "uidvalidity", "last_uid")


class TaskRunSerializer(serializers.ModelSerializer):
    """One run of a task and its report (the Test report's stages; a monitor's matches)."""

    task_type = serializers.SerializerMethodField()
    task = serializers.SerializerMethodField()
    task_name = serializers.SerializerMethodField()
    triggered_by = serializers.CharField(
        source="triggered_by.username", read_only=True, allow_null=True
    )
    report = serializers.JSONField(
        read_only=True, allow_null=True, help_text="Null until the run has ended."
    )

    class Meta:
        model = TaskRun
        fields = (
            "id",
            "task_type",
            "task",
            "task_name",
            "task_version",
            "trigger",
            "triggered_by",
            "due_at",
            "values",
            "status",
            "queued_at",
            "started_at",
            "ended_at",
            "message",
            "message_id",
            "report",
        )
        read_only_fields = fields

    def get_task_type(self, run: TaskRun) -> str:
        return "email_task" if run.email_task_id else "email_monitor_task"

    def get_task(self, run: TaskRun) -> int:
        return run.email_task_id or run.monitor_task_id

    def get_task_name(self, run: TaskRun) -> str:
        return run.task.name


class RunNowSerializer(serializers.Serializer):
    values = pairs_field(
        "Email Task only: values of ${name} placeholders for this run, over the task's Variables."
    )


class TaskViewSet(RecordViewSet):
    access_by_action = {**RecordViewSet.access_by_action, "run": RUN}
    related = ("connection",)

    @extend_schema(
        summary="Run the task now on the worker: the run, Queued",
        request=RunNowSerializer,
        responses={202: TaskRunSerializer},
    )
    @action(detail=True, methods=["post"])
    def run(self, request: Request, pk: str | None = None) -> Response:
        task = self.get_object()
        body = RunNowSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            run = runs.start(task, request.user, values=body.validated_data.get("values"))
        except runs.BadValues as exc:
            raise serializers.ValidationError({"values": [str(exc)]}) from None
        return Response(TaskRunSerializer(run).data, status=202)


@extend_schema_view(
    list=extend_schema(summary="List Email Tasks"),
    create=extend_schema(summary="Create an Email Task"),
    retrieve=extend_schema(summary="Get an Email Task"),
    partial_update=extend_schema(summary="Change an Email Task"),
    destroy=extend_schema(summary="Delete an Email Task (and its runs)"),
)
class EmailTaskViewSet(TaskViewSet):
    model = EmailTask
    serializer_class = EmailTaskSerializer
    filterset_class = api_filters(EmailTaskFilter)
    search_fields = kind_search(EmailTask)
    related = ("connection", "template")


@extend_schema_view(
    list=extend_schema(summary="List Email Monitor Tasks"),
    create=extend_schema(summary="Create an Email Monitor Task"),
    retrieve=extend_schema(summary="Get an Email Monitor Task"),
    partial_update=extend_schema(summary="Change an Email Monitor Task"),
    destroy=extend_schema(summary="Delete an Email Monitor Task (and its runs)"),
)
class EmailMonitorTaskViewSet(TaskViewSet):
    model = EmailMonitorTask
    serializer_class = EmailMonitorTaskSerializer
    filterset_class = api_filters(EmailMonitorTaskFilter)
    search_fields = kind_search(EmailMonitorTask)


class RunFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=RunStatus.choices)
    trigger = django_filters.ChoiceFilter(choices=Trigger.choices)
    email_task = IdFilter(field_name="email_task", label="Email Task id")
    email_monitor_task = IdFilter(field_name="monitor_task", label="Email Monitor Task id")
    queued_after = UtcDateTimeFilter(field_name="queued_at", lookup_expr="gte")
    queued_before = UtcDateTimeFilter(field_name="queued_at", lookup_expr="lt")

    class Meta:
        model = TaskRun
        fields = ["status", "trigger", "email_task", "email_monitor_task"]


@extend_schema_view(
    list=extend_schema(summary="List task runs, newest first"),
    retrieve=extend_schema(summary="Get a task run (poll it until status is succeeded/failed)"),
)
class TaskRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = TaskRunSerializer
    permission_classes = RecordViewSet.permission_classes
    filter_backends = [FilterBackend]
    filterset_class = RunFilter
    pagination_class = Pagination
    lookup_value_regex = "[^/]+"

    def access(self, request: Request) -> Any:
        if self.action not in ("list", "retrieve"):
            return None
        # The runs are the tasks' own: reading them needs the right to read Email Tasks.
        return access_for(EmailTask, READ)

    def get_queryset(self) -> QuerySet:
        if getattr(self, "swagger_fake_view", False):
            return TaskRun.objects.none()
        return TaskRun.objects.visible_to(self.request.user).select_related(
            "email_task", "monitor_task", "triggered_by"
        )

    def get_object(self) -> TaskRun:
        pk = self.kwargs["pk"]
        if not (pk.isascii() and pk.isdigit() and int(pk) < 2**63):
            raise NotFound(f"No task run with id {pk!r}.")
        return super().get_object()
