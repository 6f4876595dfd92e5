"""Export from a record list and the Import page (preview, then Apply): thin over transfer."""

import copy
import hashlib

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse

from connections import transfer
from connections.views import Kind, RecordListView

SESSION_KEY = "import_document"


def record_export(request: HttpRequest, kind: Kind) -> HttpResponse:
    """The selected rows (or all rows matching the list's filter) as an export file."""
    if not request.user.is_authenticated:
        return redirect(f"{reverse('login')}?next={request.path}")
    if not request.user.has_perm(kind.perm("view")):
        raise PermissionDenied
    # The list's own filtering, search and order, from the list's query string.
    filters = QueryDict(request.GET.get("filter", ""))
    listed = copy.copy(request)
    listed.GET = filters
    listing = RecordListView(kind=kind)
    listing.setup(listed)
    queryset = listing.get_queryset()
    back = f"{kind.url('list')}?{filters.urlencode()}"
    if not request.GET.get("all"):
        ids = [i for i in request.GET.getlist("id") if i.isascii() and i.isdigit()]
        if not ids:
            messages.warning(request, "Select the records to export, or tick All matching.")
            return redirect(back)
        queryset = queryset.filter(pk__in=[int(i) for i in ids if int(i) < 2**63])
    with_needed = not request.GET.get("only_selected")
    document = transfer.export(queryset, request.user, with_needed=with_needed)
    return attachment(transfer.dumps(document), transfer.file_name())


def attachment(text: str, name: str) -> HttpResponse:
    response = HttpResponse(text, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@login_required
def import_page(request: HttpRequest) -> HttpResponse:
    """Upload: a preview (dry run) of what the file does; Apply: the same, for real."""
    if request.method == "POST" and "apply" in request.POST:
        return apply(request)
    if request.method == "POST":
        return preview(request)
    return render(request, "connections/import.html", {"max_bytes": transfer.max_bytes()})


def preview(request: HttpRequest) -> HttpResponse:
    upload = request.FILES.get("file")
    context = {"max_bytes": transfer.max_bytes()}
    if upload is None:
        context["problems"] = ["Choose a file to import."]
        return render(request, "connections/import.html", context, status=400)
    if upload.size > transfer.max_bytes():
        context["problems"] = [
            f"The file is larger than the limit of {transfer.max_bytes() // 1024} KiB."
        ]
        return render(request, "connections/import.html", context, status=400)
    data = upload.read()
    try:
        plan = transfer.run(data, request.user, upload.name, dry_run=True)
    except transfer.TransferError as exc:
        context["problems"] = exc.problems
        return render(request, "connections/import.html", context, status=400)
    request.session[SESSION_KEY] = {
        "name": upload.name,
        "data": data.decode("utf-8-sig"),
        "plan": digest(plan),
    }
    context.update(plan=plan, plan_digest=digest(plan))
    return render(request, "connections/import.html", context)


def apply(request: HttpRequest) -> HttpResponse:
    stored = request.session.get(SESSION_KEY)
    if not stored:
        messages.warning(request, "Upload the file again: the preview has expired.")
        return redirect("connections:import")
    context = {"max_bytes": transfer.max_bytes()}
    try:
        check = transfer.run(stored["data"], request.user, stored["name"], dry_run=True)
        if digest(check) != stored["plan"] or request.POST.get("plan") != stored["plan"]:
            stored["plan"] = digest(check)
            request.session[SESSION_KEY] = stored
            context.update(moved=True, plan=check, plan_digest=stored["plan"])
            return render(request, "connections/import.html", context)
        plan = transfer.run(stored["data"], request.user, stored["name"])
    except transfer.TransferError as exc:
        context["problems"] = exc.problems
        return render(request, "connections/import.html", context, status=400)
    if not plan.applied:
        return render(request, "connections/import.html", {**context, "plan": plan}, status=409)
    del request.session[SESSION_KEY]
    messages.success(request, f'Imported "{plan.source}": {plan.summary()}.')
    return render(request, "connections/import.html", {**context, "plan": plan, "done": True})


def digest(plan: transfer.Plan) -> str:
    return hashlib.sha256(plan.fingerprint().encode()).hexdigest()
