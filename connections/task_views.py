"""Pages of the tasks beyond the generic record pages: Run now, a run and its progress, the
Runs tab, the Tasks tabs of a connection and a template, a template's Preview and Send test."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.generic import TemplateView

from connections.models import EmailMonitorTask, EmailTask, TaskRun, split_addresses
from connections.task_forms import RunNowForm, parse_pairs
from connections.tasks import render as rendering
from connections.tasks import runs, sending
from connections.views import KINDS, Kind, RecordPageMixin, _record_for_action

RUNS_PER_PAGE = 25


class TaskRunsView(RecordPageMixin, TemplateView):
    """A task's Runs tab, newest first."""

    template_name = "connections/task_runs.html"

    def get_context_data(self, **kwargs: object) -> dict:
        task = self.get_record()
        page = Paginator(task.runs.select_related("triggered_by"), RUNS_PER_PAGE).get_page(
            self.request.GET.get("page")
        )
        return super().get_context_data(page_obj=page, runs=page.object_list, **kwargs)


class ConnectionTasksView(RecordPageMixin, TemplateView):
    """The Tasks tab of a connection: the tasks of both kinds that use it."""

    template_name = "connections/connection_tasks.html"

    def get_context_data(self, **kwargs: object) -> dict:
        connection, user = self.get_record(), self.request.user
        email_tasks = EmailTask.objects.visible_to(user).using_connection(connection)
        monitors = EmailMonitorTask.objects.visible_to(user).filter(connection=connection)
        return super().get_context_data(
            email_tasks=email_tasks.select_related("template").order_by("name"),
            monitor_tasks=monitors.order_by("name"),
            **kwargs,
        )


class TemplateTasksView(RecordPageMixin, TemplateView):
    """The Email Tasks tab of a template."""

    template_name = "connections/connection_tasks.html"

    def get_context_data(self, **kwargs: object) -> dict:
        tasks = EmailTask.objects.visible_to(self.request.user).filter(template=self.get_record())
        return super().get_context_data(
            email_tasks=tasks.select_related("connection").order_by("name"),
            monitor_tasks=None,
            **kwargs,
        )


def run_now(request: HttpRequest, kind: Kind, pk: int) -> HttpResponse:
    """Queue a run of the task on the worker, then show the run (its page follows it)."""
    task = _record_for_action(request, kind, pk, "run")
    form = RunNowForm(request.POST)
    if not form.is_valid():
        messages.error(request, f"Not run: {' '.join(form.errors['values'])}")
        return redirect(task.get_absolute_url())
    run = runs.start(task, request.user, values=form.cleaned_data["values"])
    messages.success(request, f'{kind.label} "{task}" queued to run.')
    return redirect(run.get_absolute_url())


def _visible_run(request: HttpRequest, pk: int) -> TaskRun:
    runs_seen = TaskRun.objects.visible_to(request.user).select_related(
        "email_task", "monitor_task", "triggered_by"
    )
    run = get_object_or_404(runs_seen, pk=pk)
    if not request.user.has_perm(KINDS[run.task._meta.model_name].perm("view")):
        raise PermissionDenied
    return run


@login_required
def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One run: what started it and when, its status, and once ended its report. While it
    is Queued or Running, task_run.js asks the status endpoint until it ends."""
    run = _visible_run(request, pk)
    return render(request, "connections/task_run.html", _run_context(run))


def _run_context(run: TaskRun) -> dict:
    kind = KINDS[run.task._meta.model_name]
    return {"run": run, "kind": kind, "report": runs.report_of(run.report)}


def run_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The run's status as JSON; once it ended, `html` is the run's view with its report."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "Log in again."}, status=401)
    run = _visible_run(request, pk)
    answer = {"status": run.status, "label": run.get_status_display(), "ended": run.ended}
    if run.ended:
        context = _run_context(run)
        answer["html"] = render(request, "connections/_run_view.html", context).content.decode()
    return JsonResponse(answer)


class TemplatePreviewView(RecordPageMixin, TemplateView):
    """Preview: the template rendered with the values typed on the page, unknown
    placeholders marked where they are. Send test (POST) sends it to one address through
    the template's connection, and shows the report."""

    template_name = "connections/template_preview.html"

    def required_action(self) -> str:
        return "view"

    def values_text(self) -> str:
        return self.request.POST.get("values", self.request.GET.get("values", ""))

    def post(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not request.user.has_perm("connections.test_emailconnection"):
            raise PermissionDenied
        template = self.get_record()
        recipient = request.POST.get("recipient", "").strip()
        context: dict = {"recipient": recipient}
        try:
            values = parse_pairs(self.values_text())
        except ValidationError as exc:
            values = None
            context["problems"] = {"Values": exc.messages}
        good, bad = one_address(recipient)
        if bad:
            context["problems"] = {**context.get("problems", {}), "Recipient": [bad]}
        if values is not None and not bad:
            draft = rendering.Draft.of(template)
            test = rendering.Draft(
                reply_to=draft.reply_to, to=good, subject=draft.subject, body=draft.body
            )
            context["report"] = sending.send(template.connection, test, values)
        return self.render_to_response(self.get_context_data(**context))

    def get_context_data(self, **kwargs: object) -> dict:
        text = self.values_text()
        try:
            values, error = parse_pairs(text), ""
        except ValidationError as exc:
            values, error = {}, " ".join(exc.messages)
        draft = rendering.Draft.of(self.get_record())
        fields = [
            (label, rendering.segments(getattr(draft, name), values))
            for name, label in rendering.LABELS.items()
        ]
        unknown = sorted({s.name for _, pieces in fields for s in pieces if s.kind == "unknown"})
        return super().get_context_data(
            fields=fields, unknown=unknown, values_text=text, values_error=error, **kwargs
        )


def one_address(recipient: str) -> tuple[str, str]:
    """The one test address, or why it is not one."""
    good, bad = split_addresses(recipient)
    if bad or len(good) != 1:
        return "", "Give one email address to send the test to."
    return good[0], ""
