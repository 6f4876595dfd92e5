"""Notification Settings (a record of its own, with history) and the notification log."""

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from connections import notifications, records, versions
from connections.forms import RecordForm
from connections.notification_models import TOPIC_LABELS, Notification, NotificationSettings

PERMISSION = "connections.change_notificationsettings"


class NotificationSettingsForm(RecordForm):
    class Meta:
        model = NotificationSettings
        fields = tuple(f"{t}_{k}" for t in TOPIC_LABELS for k in ("addresses", "users", "groups"))
        widgets = {f"{t}_addresses": forms.TextInput() for t in TOPIC_LABELS}

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        users = get_user_model().objects.filter(is_active=True).order_by("username")
        for topic in TOPIC_LABELS:
            self.fields[f"{topic}_users"].queryset = users
            self.fields[f"{topic}_groups"].queryset = Group.objects.order_by("name")
            for kind in ("users", "groups"):
                field = self.fields[f"{topic}_{kind}"]
                field.widget = forms.CheckboxSelectMultiple(choices=field.choices)
                field.help_text = ""


@login_required
def notification_settings(request: HttpRequest) -> HttpResponse:
    """Who is told of which change; blank everywhere: the superusers' addresses."""
    if not request.user.has_perm("connections.view_notificationsettings"):
        raise PermissionDenied
    current = NotificationSettings.current()
    can_change = request.user.has_perm(PERMISSION)
    form = NotificationSettingsForm(
        request.POST if request.method == "POST" else None, instance=current, user=request.user
    )
    if request.method == "POST":
        if not can_change:
            raise PermissionDenied
        if form.is_valid():
            try:
                result = records.save_record(
                    form.save(commit=False),
                    request.user,
                    m2m=form.m2m_data(),
                    expected_version=form.cleaned_data.get("expected_version"),
                )
            except records.StaleRecord as stale:
                form.add_error(
                    None,
                    f"Changed by {stale.current.updated_by or 'someone else'} since you opened "
                    f"it (now version {stale.current.version}): reload and apply your change "
                    "again.",
                )
            else:
                text = "Notification Settings saved." if result.changed else "No changes."
                messages.success(request, text)
                return redirect("connections:notification-settings")
    if not can_change:
        form.disable_all()
    history = versions.versions_page(current, request.GET.get("page")) if current.pk else None
    return render(
        request,
        "connections/notification_settings.html",
        {
            "form": form,
            "settings": current,
            "can_change": can_change,
            "history": history,
            "defaults": notifications.superuser_addresses(),
        },
    )


@login_required
def notification_log(request: HttpRequest) -> HttpResponse:
    """What was sent, to whom and when, and each failure."""
    if not request.user.has_perm("connections.view_notification"):
        raise PermissionDenied
    page = Paginator(Notification.objects.all(), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "connections/notifications.html",
        {"page_obj": page, "system_connection": notifications.system_connection()},
    )
