"""The forms of the two task types (registered in forms.FORMS) and the Run now values."""

from crispy_forms.layout import Div, Field
from django import forms

from connections.forms import RecordForm
from connections.models import EmailConnection, EmailMonitorTask, EmailTask, EmailTemplate
from connections.task_models import MONITOR_FIELDS, criterion_fields
from connections.tasks import render

SCHEDULE_FIELDS = ("schedule", "interval_minutes", "cron_expression", "enabled")


def parse_pairs(text: str) -> dict[str, str]:
    """`name=value` lines -> {name: value}; blank lines are skipped."""
    if "\x00" in text:
        raise forms.ValidationError("Null characters are not allowed.")
    pairs: dict[str, str] = {}
    bad = []
    for line in text.splitlines():
        if not line.strip():
            continue
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not render.is_name(name):
            bad.append(line.strip()[:40])
        else:
            pairs[name] = value
    if bad:
        raise forms.ValidationError(
            "Write one name=value a line, the name of letters, digits and _ "
            f"(not: {'; '.join(bad)})."
        )
    return pairs


def format_pairs(pairs: object) -> str:
    if not isinstance(pairs, dict):
        return ""
    return "\n".join(f"{name}={value}" for name, value in pairs.items())


class PairsField(forms.CharField):
    """Name/value pairs typed as `name=value` lines, stored as a JSON object."""

    widget = forms.Textarea(attrs={"rows": 3, "spellcheck": "false"})

    def __init__(self, **kwargs: object) -> None:
        kwargs.setdefault("required", False)
        kwargs.setdefault("strip", False)
        super().__init__(**kwargs)

    def prepare_value(self, value: object) -> str:
        return format_pairs(value) if isinstance(value, dict) else value

    def to_python(self, value: object) -> dict[str, str]:
        return parse_pairs(super().to_python(value) or "")


class TaskForm(RecordForm):
    """What both task types share: the schedule comes last."""

    def clean(self) -> dict:
        data = super().clean()
        rules = self._meta.model.field_rules()
        key = "|".join(str(data.get(c) or getattr(self.instance, c)) for c in rules["controls"])
        managed = {name for names in rules["rules"].values() for name in names}
        for name in managed - set(rules["rules"].get(key, [])):
            # Hidden in the page: neither validated nor changed.
            self._errors.pop(name, None)
            data.pop(name, None)
        return data


class EmailTaskForm(TaskForm):
    variables = PairsField(
        label="Variables",
        help_text="One name=value a line, used by ${name} placeholders; values given at "
        "Run now win.",
    )

    class Meta:
        model = EmailTask
        fields = (
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
            *SCHEDULE_FIELDS,
            "notify_addresses",
        )
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "body": forms.Textarea(attrs={"rows": 6}),
            "notify_addresses": forms.Textarea(attrs={"rows": 2}),
        }
        help_texts = {
            "to": "Comma-separated addresses. Blank: the template's.",
            "subject": "Blank: the template's.",
            "body": "Blank: the template's. Use ${name} placeholders.",
        }

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        connections = EmailConnection.objects.all()
        templates = EmailTemplate.objects.all()
        if self.user is not None:
            connections = connections.visible_to(self.user)
            templates = templates.visible_to(self.user)
        self.fields["connection"].queryset = connections.outgoing()
        self.fields["connection"].error_messages["invalid_choice"] = (
            "Choose an Outgoing connection: an Email Task sends mail."
        )
        self.fields["template"].queryset = templates.order_by("name")


def criteria_layout(fields: tuple[str, ...]) -> tuple:
    """The form's fields in order, each criterion's operator and value on one row."""
    values = {criterion_fields(field)[1] for field in MONITOR_FIELDS}
    layout: list = []
    for name in fields:
        if name.endswith("_operator") and name.replace("_operator", "_value") in values:
            value = name.replace("_operator", "_value")
            layout.append(
                Div(
                    Div(Field(name), css_class="col-md-4"),
                    Div(Field(value), css_class="col-md-8"),
                    css_class="row",
                )
            )
        elif name not in values:
            layout.append(name)
    return tuple(layout)


class EmailMonitorTaskForm(TaskForm):
    class Meta:
        model = EmailMonitorTask
        fields = (
            "name",
            "description",
            "business_services",
            "connection",
            "folder",
            *(name for field in MONITOR_FIELDS for name in criterion_fields(field)),
            "action",
            "move_folder",
            *SCHEDULE_FIELDS,
            "notify_addresses",
        )
        widgets = {
            "description": forms.Textarea(attrs={"rows": 2}),
            "notify_addresses": forms.Textarea(attrs={"rows": 2}),
        }

    layout_fields = criteria_layout(Meta.fields)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        connections = EmailConnection.objects.all()
        if self.user is not None:
            connections = connections.visible_to(self.user)
        self.fields["connection"].queryset = connections.incoming()
        self.fields["connection"].error_messages["invalid_choice"] = (
            "Choose an Incoming connection: a monitor reads a mailbox."
        )
        for field in MONITOR_FIELDS:
            operator = self.fields[criterion_fields(field)[0]]
            operator.choices = [("", "(not used)"), *operator.choices[1:]]


class RunNowForm(forms.Form):
    values = PairsField(
        label="Values",
        help_text="One name=value a line: used instead of the task's Variables for this run.",
    )
