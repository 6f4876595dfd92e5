"""Django admin for the two task types (imported by admin.py): the pages' forms, the same
save path and history as every record; run state shown read-only."""

from django.contrib import admin

from connections.admin import METADATA, RecordAdmin, VisibleRelatedFilter
from connections.models import EmailMonitorTask, EmailTask
from connections.task_forms import EmailMonitorTaskForm, EmailTaskForm

TASK_STATE = ("next_run_at", "last_run_at", "last_run_status")


@admin.register(EmailTask)
class EmailTaskAdmin(RecordAdmin):
    form = EmailTaskForm
    list_display = ("name", "connection", "template", "schedule", "enabled", "last_run_status")
    list_filter = (
        "schedule",
        "enabled",
        "last_run_status",
        ("business_services", VisibleRelatedFilter),
    )
    list_select_related = ("connection", "template")
    search_fields = ("name", "description", "subject", "to")
    fields = (*EmailTaskForm.Meta.fields, *TASK_STATE, *METADATA)
    readonly_fields = (*METADATA, *TASK_STATE)


@admin.register(EmailMonitorTask)
class EmailMonitorTaskAdmin(RecordAdmin):
    form = EmailMonitorTaskForm
    list_display = ("name", "connection", "folder", "action", "schedule", "last_run_status")
    list_filter = ("action", "schedule", "enabled", ("business_services", VisibleRelatedFilter))
    list_select_related = ("connection",)
    search_fields = ("name", "description", "folder")
    fields = (*EmailMonitorTaskForm.Meta.fields, *TASK_STATE, "uidvalidity", "last_uid", *METADATA)
    readonly_fields = (*METADATA, *TASK_STATE, "uidvalidity", "last_uid")
