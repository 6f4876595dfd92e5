"""Pages. One set of views serves every record type; each type declares what differs (Kind)."""

from dataclasses import dataclass, field
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import FieldDoesNotExist, PermissionDenied, ValidationError
from django.core.paginator import InvalidPage
from django.db.models import F, Q, QuerySet
from django.forms import NullBooleanSelect
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.generic import CreateView, ListView, TemplateView, UpdateView

from connections import connection_test as connection_test_module
from connections import filters, paging, records, versions
from connections.forms import FORMS
from connections.models import (
    BusinessService,
    EmailConnection,
    EmailMonitorTask,
    EmailTask,
    EmailTemplate,
    OAuthClient,
    Record,
    ServiceNames,
)
from connections.oauth import flow
from connections.templatetags.records import Rows


@dataclass(frozen=True)
class Column:
    label: str
    attr: str
    sort: str = ""
    # The column to sort by when it is not `sort` (a derived column with its own index).
    order: str = ""


@dataclass(frozen=True)
class Tab:
    label: str
    url_name: str


@dataclass(frozen=True)
class Kind:
    model: type[Record]
    slug: str
    filterset: type
    columns: tuple[Column, ...]
    search: tuple[str, ...]
    related: tuple[str, ...] = ()
    tabs: tuple[Tab, ...] = field(default_factory=tuple)
    # The columns the list reads (only() these; empty: every column but the ciphertexts).
    listed: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.model._meta.model_name

    @property
    def label(self) -> str:
        return str(self.model._meta.verbose_name)

    @property
    def label_plural(self) -> str:
        return f"{self.label}s"

    def url(self, action: str, *args: object) -> str:
        return reverse(f"connections:{self.name}-{action}", args=args)

    def perm(self, action: str) -> str:
        return f"connections.{action}_{self.name}"


NAME = Column("Name", "name", "name")
DESCRIPTION = Column("Description", "description")
VERSION = Column("Version", "version", "version")
UPDATED = Column("Updated", "updated_at", "updated_at")
# Sorted by the first service's name, kept in a column of its own (service_sort.py).
SERVICES = Column("Business Services", "business_services", "business_services", "services_sort")
PAGE_SIZES = (10, 25, 50, 100)

KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            EmailConnection,
            "connections",
            filters.EmailConnectionFilter,
            (
                NAME,
                Column("Type", "get_connection_type_display", "connection_type"),
                Column("Server", "server", "server", "server_sort"),
                Column("Port", "port", "port", "port_sort"),
                Column("Email Address", "email_address", "email_address"),
                Column("Authentication", "get_authentication_display", "authentication"),
                Column("System", "system_connection", "system_connection"),
                Column("Status", "get_status_display", "last_test_ok"),
                Column("Last Test", "last_test_at", "last_test_at"),
                SERVICES,
                UPDATED,
            ),
            ("name", "description", "smtp_server", "imap_server", "email_address", "user_name"),
            tabs=(
                Tab("Email Templates", "emailconnection-templates"),
                Tab("Tasks", "emailconnection-tasks"),
            ),
            listed=(
                "name",
                "connection_type",
                "smtp_server",
                "imap_server",
                "smtp_port",
                "imap_port",
                "email_address",
                "authentication",
                "system_connection",
                "last_test_ok",
                "last_test_at",
                "oauth_needs_reauth",
                "updated_at",
            ),
        ),
        Kind(
            EmailTemplate,
            "templates",
            filters.EmailTemplateFilter,
            (
                NAME,
                Column("Email Connection", "connection", "connection__name"),
                Column("To", "to", "to"),
                Column("Subject", "subject", "subject"),
                SERVICES,
                UPDATED,
            ),
            ("name", "description", "subject", "to", "cc", "bcc"),
            related=("connection",),
            tabs=(
                Tab("Email Tasks", "emailtemplate-tasks"),
                Tab("Preview", "emailtemplate-preview"),
            ),
        ),
        Kind(
            EmailTask,
            "email-tasks",
            filters.EmailTaskFilter,
            (
                NAME,
                Column("Email Connection", "sending_connection", "connection__name"),
                Column("Email Template", "template", "template__name"),
                Column("Schedule", "schedule_display", "schedule"),
                Column("Enabled", "enabled", "enabled"),
                Column("Last Run", "get_last_run_status_display", "last_run_status"),
                Column("Last Run At", "last_run_at", "last_run_at"),
                SERVICES,
                UPDATED,
            ),
            ("name", "description", "subject", "to", "cc", "bcc"),
            related=("connection", "template__connection"),
            tabs=(Tab("Runs", "emailtask-runs"),),
        ),
        Kind(
            EmailMonitorTask,
            "monitor-tasks",
            filters.EmailMonitorTaskFilter,
            (
                NAME,
                Column("Email Connection", "connection", "connection__name"),
                Column("Folder", "folder", "folder"),
                Column("Action", "get_action_display", "action"),
                Column("Schedule", "schedule_display", "schedule"),
                Column("Enabled", "enabled", "enabled"),
                Column("Last Run", "get_last_run_status_display", "last_run_status"),
                Column("Last Run At", "last_run_at", "last_run_at"),
                SERVICES,
                UPDATED,
            ),
            ("name", "description", "folder", "move_folder"),
            related=("connection",),
            tabs=(Tab("Runs", "emailmonitortask-runs"),),
        ),
        Kind(
            OAuthClient,
            "oauth-clients",
            filters.OAuthClientFilter,
            (
                NAME,
                Column("Provider", "get_provider_display", "provider"),
                Column("Tenant ID", "tenant_id", "tenant_id"),
                Column("Client ID", "client_id", "client_id"),
                SERVICES,
                UPDATED,
            ),
            ("name", "description", "client_id", "tenant_id"),
        ),
        Kind(
            BusinessService,
            "business-services",
            filters.BusinessServiceFilter,
            (NAME, DESCRIPTION, VERSION, UPDATED),
            ("name", "description"),
        ),
    )
}


def kind_of(record: Record) -> Kind:
    return KINDS[record._meta.model_name]


def safe_back(request: HttpRequest, fallback: str) -> str:
    back = request.GET.get("back") or request.POST.get("back") or ""
    if back and url_has_allowed_host_and_scheme(back, {request.get_host()}):
        return back
    return fallback


class RecordMixin(LoginRequiredMixin):
    kind: Kind = None
    action = "view"

    def dispatch(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        if not request.user.is_authenticated:
            return self.handle_no_permission()
        if not request.user.has_perm(self.kind.perm(self.required_action())):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def required_action(self) -> str:
        return "change" if self.request.method == "POST" else self.action

    def get_queryset(self) -> QuerySet:
        return self.kind.model.objects.visible_to(self.request.user)

    def get_context_data(self, **kwargs: object) -> dict:
        user = self.request.user
        return super().get_context_data(
            kind=self.kind,
            can_add=user.has_perm(self.kind.perm("add")),
            can_change=user.has_perm(self.kind.perm("change")),
            can_delete=user.has_perm(self.kind.perm("delete")),
            **kwargs,
        )


class RecordFormMixin:
    """New and existing record forms: the form class and the field-switching rules."""

    def get_form_class(self) -> type:
        return FORMS[self.kind.model]

    def get_form_kwargs(self) -> dict:
        return {**super().get_form_kwargs(), "user": self.request.user}

    def get_context_data(self, **kwargs: object) -> dict:
        rules = getattr(self.kind.model, "field_rules", None)
        return super().get_context_data(field_rules=rules() if rules else None, **kwargs)


class RecordListView(RecordMixin, ListView):
    template_name = "connections/record_list.html"
    paginate_by = 25

    def get_paginate_by(self, queryset: QuerySet) -> int:
        try:
            return max(1, min(int(self.request.GET.get("per_page", self.paginate_by)), 200))
        except ValueError:
            return self.paginate_by

    def paginate_queryset(self, queryset: QuerySet, page_size: int) -> tuple:
        """A page of the list, counted only up to a bound (paging.py): the cost of a page does
        not grow with the table. `page=last` beyond the bound reads the order backwards."""
        wanted = self.request.GET.get("page") or "1"
        last = wanted == "last"
        number = 1 if last else int(wanted) if wanted.isascii() and wanted.isdigit() else 0
        if not 1 <= number <= 10**7:
            raise Http404("No such page.")
        offset = (number - 1) * page_size
        paginator = paging.BoundedPaginator(
            queryset,
            page_size,
            paging.bound_for(offset, page_size),
            exact=paging.wants_exact(self.request.GET),
        )
        if last and not paginator.exact:
            page = paginator.last_rows()
            return paginator, page, page.object_list, True
        try:
            page = paginator.page(paginator.num_pages if last else number)
        except InvalidPage:
            raise Http404("No such page.") from None
        return paginator, page, page.object_list, page.has_other_pages()

    def sort_key(self) -> str:
        """A sortable column, descending with one leading "-"; anything else sorts by name."""
        wanted = self.request.GET.get("sort", "name")
        allowed = {c.sort for c in self.kind.columns if c.sort}
        return wanted if wanted.removeprefix("-") in allowed else "name"

    def get_queryset(self) -> QuerySet:
        qs = super().get_queryset()
        # Never the ciphertexts in a list: whether a secret is stored is all a row shows.
        secrets = self.kind.model.secret_fields
        qs = qs.annotate(**{f"{name}_stored": ~Q(**{name: ""}) for name in secrets})
        qs = qs.only(*self.kind.listed) if self.kind.listed else qs.defer(*secrets)
        if hasattr(self.kind.model, "business_services"):
            qs = qs.annotate(services_text=ServiceNames(self.kind.model))
        if self.kind.related:
            qs = qs.select_related(*self.kind.related)
        self.filterset = self.kind.filterset(self.request.GET, queryset=qs, user=self.request.user)
        for f in self.filterset.form.fields.values():
            f.widget.attrs["class"] = "form-select form-select-sm"
            if getattr(f, "empty_label", None) is not None:
                f.empty_label = "All"
                f.widget.choices = f.choices  # the widget holds its own copy of the choices
            elif isinstance(f.widget, NullBooleanSelect):  # "Unknown" means no filter here
                f.widget.choices = [("unknown", "All"), ("true", "Yes"), ("false", "No")]
        qs = self.filterset.qs
        query = self.request.GET.get("q", "").strip()
        if query:
            terms = Q()
            for name in self.kind.search:
                terms |= Q(**{f"{name}__icontains": query})
            qs = qs.filter(terms)
        key = self.sort_key()
        name = key.removeprefix("-")
        column = next((c for c in self.kind.columns if c.sort == name), None)
        name = column.order if column and column.order else name
        value = F(name)
        # Empty values last either way, and pk breaks ties: the same order on every page.
        # A column that cannot be empty is sorted plainly, so its (column, pk) index serves.
        nulls = {"nulls_last": True} if self.nullable(name) else {}
        if key.startswith("-"):
            return qs.order_by(value.desc(**nulls), "-pk")
        return qs.order_by(value.asc(**nulls), "pk")

    def nullable(self, name: str) -> bool:
        try:
            found = self.kind.model._meta.get_field(name)
        except FieldDoesNotExist:
            return True
        return found.null or found.is_relation

    def get_context_data(self, **kwargs: object) -> dict:
        params = self.request.GET.copy()
        params.pop("page", None)
        sort_params = params.copy()
        sort_params.pop("sort", None)
        context = super().get_context_data(
            filterset=self.filterset,
            sort=self.sort_key(),
            query=self.request.GET.get("q", ""),
            querystring=params.urlencode(),
            sort_querystring=sort_params.urlencode(),
            page_sizes=PAGE_SIZES,
            per_page=self.get_paginate_by(None),
            **kwargs,
        )
        # The first column is the Name, a link; the record's URL is the list's plus its pk.
        listed = self.kind.url("list")
        page = context["object_list"]
        rows = Rows(self.kind.model, self.kind.columns[1:])
        back = quote(self.request.get_full_path(), safe="/")  # as the urlencode filter
        context["rows"] = mark_safe(  # noqa: S308 - every value is escaped by Rows
            "\n".join(rows.html(record, f"{listed}{record.pk}/", back) for record in page)
        )
        return context


class RecordCreateView(RecordFormMixin, RecordMixin, CreateView):
    template_name = "connections/record_form.html"
    action = "add"

    def required_action(self) -> str:
        return "add"

    def form_valid(self, form: object) -> HttpResponse:
        try:
            result = records.save_record(
                form.save(commit=False), self.request.user, m2m=form.m2m_data()
            )
        except records.NameTaken:
            form.add_error("name", "Name must be unique.")
            return self.form_invalid(form)
        record = result.record
        messages.success(self.request, f'{self.kind.label} "{record}" saved.')
        if "_save_new" in self.request.POST:
            return redirect(self.kind.url("new"))
        if "_save_view" in self.request.POST:
            return redirect(record.get_absolute_url())
        return redirect(self.kind.url("list"))

    def get_context_data(self, **kwargs: object) -> dict:
        return super().get_context_data(
            back=safe_back(self.request, self.kind.url("list")), **kwargs
        )


class RecordPageMixin(RecordMixin):
    """An existing record's pages: header, buttons and tabs."""

    def get_record(self) -> Record:
        if not hasattr(self, "_record"):
            self._record = get_object_or_404(self.get_queryset(), pk=self.kwargs["pk"])
        return self._record

    def get_context_data(self, **kwargs: object) -> dict:
        record = self.get_record()
        back = safe_back(self.request, self.kind.url("list"))
        can_delete = self.request.user.has_perm(self.kind.perm("delete"))
        return super().get_context_data(
            record=record,
            back=back,
            # The Delete dialog names what uses the record, and then offers no Delete.
            in_use=records.record_users(record, self.request.user) if can_delete else [],
            tabs=[
                Tab("Details", f"{self.kind.name}-detail"),
                *self.kind.tabs,
                Tab("Versions", f"{self.kind.name}-versions"),
            ],
            **kwargs,
        )


class RecordDetailView(RecordFormMixin, RecordPageMixin, UpdateView):
    template_name = "connections/record_form.html"

    def get_object(self, queryset: QuerySet | None = None) -> Record:
        return self.get_record()

    def get_form(self, form_class: type | None = None) -> object:
        form = super().get_form(form_class)
        if not self.request.user.has_perm(self.kind.perm("change")):
            form.disable_all()
        return form

    def form_valid(self, form: object) -> HttpResponse:
        record = form.save(commit=False)
        was_authorized = getattr(record, "oauth_authorized", False)
        try:
            result = records.save_record(
                record,
                self.request.user,
                m2m=form.m2m_data(),
                expected_version=form.cleaned_data.get("expected_version"),
            )
        except records.StaleRecord as stale:
            form.add_error(
                None,
                f'{self.kind.label} "{stale.current}" was changed by '
                f"{stale.current.updated_by or 'someone else'} since you opened it (you opened "
                f"version {form.cleaned_data.get('expected_version')}, it is now version "
                f"{stale.current.version}). Your changes were not saved: compare the versions, "
                "then reopen the record and apply your changes again.",
            )
            self.stale = stale.current
            self.opened_version = form.cleaned_data.get("expected_version")
            return self.form_invalid(form)
        except records.NameTaken:
            form.add_error("name", "Name must be unique.")
            return self.form_invalid(form)
        if result.changed:
            messages.success(self.request, f'{self.kind.label} "{record}" updated.')
        else:
            messages.info(self.request, f'No changes: {self.kind.label} "{record}" not updated.')
        if was_authorized and not record.oauth_authorized:
            messages.warning(
                self.request,
                "The OAuth authorization was forgotten (its tokens are only sent to the server, "
                "port and user they were authorized for): click Authorize again.",
            )
        return redirect(self.detail_url(record))

    def render_to_response(self, context: dict, **kwargs: object) -> HttpResponse:
        return allow_provider_redirect(super().render_to_response(context, **kwargs))

    def detail_url(self, record: Record) -> str:
        back = self.request.GET.get("back")
        url = record.get_absolute_url()
        return f"{url}?back={back}" if back else url

    def get_context_data(self, **kwargs: object) -> dict:
        return super().get_context_data(
            stale=getattr(self, "stale", None),
            opened_version=getattr(self, "opened_version", None),
            **kwargs,
        )


class RecordVersionsView(RecordPageMixin, TemplateView):
    template_name = "connections/record_versions.html"

    def get_context_data(self, **kwargs: object) -> dict:
        page = versions.versions_page(self.get_record(), self.request.GET.get("page"))
        return super().get_context_data(
            page_obj=page,
            versions=page.object_list,
            can_restore=self.request.user.has_perm(self.kind.perm("restore")),
            **kwargs,
        )


class RecordVersionView(RecordPageMixin, TemplateView):
    """One version, read-only: its values, and a Restore button."""

    template_name = "connections/record_version.html"

    def get_context_data(self, **kwargs: object) -> dict:
        record = self.get_record()
        try:
            version = versions.version_by_number(record, self.kwargs["number"])
        except LookupError as exc:
            raise Http404(str(exc)) from exc
        fields = versions.version_fields(record, version)
        return super().get_context_data(
            version=version,
            fields=fields,
            can_restore=self.request.user.has_perm(self.kind.perm("restore")),
            **kwargs,
        )


class RecordCompareView(RecordPageMixin, TemplateView):
    """Two versions side by side, changed fields marked; secrets only as "changed"."""

    template_name = "connections/record_compare.html"

    def get(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponse:
        record = self.get_record()
        numbers = sorted({n for n in request.GET.getlist("v") if n.isdigit()}, key=int)
        if len(numbers) != 2:
            messages.warning(request, "Select two versions to compare.")
            return redirect(self.kind.url("versions", record.pk))
        try:
            self.left, self.right = (versions.version_by_number(record, int(n)) for n in numbers)
        except LookupError as exc:
            raise Http404(str(exc)) from exc
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs: object) -> dict:
        fields = versions.compare(self.get_record(), self.left, self.right)
        return super().get_context_data(
            left=self.left,
            right=self.right,
            fields=fields,
            changed_count=sum(f.changed for f in fields),
            **kwargs,
        )


class ConnectionTemplatesView(RecordPageMixin, TemplateView):
    template_name = "connections/connection_templates.html"

    def get_context_data(self, **kwargs: object) -> dict:
        templates = (
            EmailTemplate.objects.visible_to(self.request.user)
            .filter(connection=self.get_record())
            .order_by("name")
        )
        return super().get_context_data(templates=templates, **kwargs)


def _record_for_action(request: HttpRequest, kind: Kind, pk: int, action: str) -> Record:
    if not request.user.has_perm(kind.perm(action)):
        raise PermissionDenied
    return get_object_or_404(kind.model.objects.visible_to(request.user), pk=pk)


def record_copy(request: HttpRequest, kind: Kind, pk: int) -> HttpResponse:
    """Copy under a new name. The dialog asks for JSON, so that a refused name is shown in
    it, still open; a plain form post is redirected as before."""
    record = _record_for_action(request, kind, pk, "add")
    wants_json = request.headers.get("Accept") == "application/json"
    name = request.POST.get("name", "").strip()
    try:
        if not name:
            raise ValidationError({"name": "Give the copy a name."})
        copy = records.copy_record(record, name, request.user)
    except (ValidationError, records.NameTaken) as exc:
        if isinstance(exc, ValidationError):
            problems = "; ".join(m for ms in exc.message_dict.values() for m in ms)
        else:
            problems = "Name must be unique."
        if wants_json:
            return JsonResponse({"error": problems}, status=400)
        messages.error(request, f'Copy of "{record}" not made: {problems}')
        return redirect(record.get_absolute_url())
    messages.success(request, f'{kind.label} "{record}" copied to "{copy}".')
    if isinstance(copy, EmailConnection) and copy.authentication == EmailConnection.Auth.OAUTH2:
        messages.info(request, "The copy is not authorized: OAuth tokens are never copied.")
    if wants_json:
        return JsonResponse({"url": copy.get_absolute_url()})
    return redirect(copy.get_absolute_url())


def record_restore(request: HttpRequest, kind: Kind, pk: int, number: int) -> HttpResponse:
    record = _record_for_action(request, kind, pk, "restore")
    try:
        result = versions.restore(record, number, request.user, request.POST.get("password", ""))
    except LookupError as exc:
        raise Http404(str(exc)) from exc
    except (versions.RestoreRefused, records.NameTaken) as exc:
        message = str(exc) if isinstance(exc, versions.RestoreRefused) else "Name must be unique."
        messages.error(request, message)
        return redirect(kind.url("versions", pk))
    if result.changed:
        messages.success(
            request,
            f'Version {number} of {kind.label} "{record}" restored as version {record.version}. '
            "Secrets were not restored: the current ones are kept.",
        )
    else:
        messages.info(request, f"Version {number} is the same as the current one: nothing changed.")
    return redirect(kind.url("versions", pk))


def record_delete(request: HttpRequest, kind: Kind, pk: int) -> HttpResponse:
    record = _record_for_action(request, kind, pk, "delete")
    try:
        records.delete_record(record, request.user)
    except records.RecordInUse:
        users = records.record_users(record, request.user)
        messages.error(
            request, f'{kind.label} "{record}" not deleted: it is used by {", ".join(users)}.'
        )
        return redirect(record.get_absolute_url())
    messages.success(request, f'{kind.label} "{record}" deleted.')
    return redirect(kind.url("list"))


def action_view(func: object, kind: Kind) -> object:
    """A POST-only, login-required action bound to one record type."""

    def view(request: HttpRequest, pk: int, **kwargs: object) -> HttpResponse:
        if not request.user.is_authenticated:
            return redirect(f"{reverse('login')}?next={request.path}")
        if request.method != "POST":
            return HttpResponseRedirect(kind.url("detail", pk))
        return func(request, kind, pk, **kwargs)

    view.__name__ = func.__name__
    return view


def connection_test(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Test the form's current values (saved or not) and answer with the report fragment."""
    if not request.user.is_authenticated:
        return HttpResponse("Log in again to test.", status=401)
    if request.method != "POST" or not request.user.has_perm("connections.test_emailconnection"):
        raise PermissionDenied
    visible = EmailConnection.objects.visible_to(request.user)
    stored = get_object_or_404(visible, pk=pk) if pk else None
    form = FORMS[EmailConnection](
        request.POST, instance=EmailConnection.objects.get(pk=pk) if pk else None, user=request.user
    )
    form.is_valid()
    connection = form.instance
    problems = {
        connection._meta.get_field(name).verbose_name if name != "password" else "Password": errs
        for name, errs in form.errors.items()
        if name in connection.applicable_fields() - {"password"}
    }
    context = {"problems": problems, "recipient": request.POST.get("recipient", "").strip()}
    status = 200
    if not problems:
        try:
            context["report"] = connection_test_module.run_test(
                connection,
                request.user,
                stored=stored,
                password=form.cleaned_data.get("password", ""),
                recipient=context["recipient"],
            )
        except connection_test_module.PasswordRequired as exc:
            context["problems"] = {"Password": [str(exc)]}
        except connection_test_module.RateLimited as exc:
            context["problems"] = {"Test": [str(exc)]}
            status = 429
    return render(request, "connections/_test_report.html", context, status=status)


def allow_provider_redirect(response: HttpResponse) -> HttpResponse:
    """Authorize is a form that the server redirects to the provider; Chromium applies the
    page's CSP form-action to that redirect, so the page allows the provider's origin."""
    record = getattr(response, "context_data", {}).get("record")
    if isinstance(record, EmailConnection):
        origin = flow.provider_origin(record)
        if origin:
            response._csp_update = {"form-action": [origin]}
    return response


def _authorizable(request: HttpRequest, pk: int) -> EmailConnection:
    if not request.user.has_perm("connections.authorize_emailconnection"):
        raise PermissionDenied
    visible = EmailConnection.objects.visible_to(request.user).select_related("oauth_client")
    return get_object_or_404(visible, pk=pk)


def connection_authorize(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: a page with the Authorize button (the API hands this URL to a person).
    POST: remember the state and go to the provider."""
    if not request.user.is_authenticated:
        return redirect(f"{reverse('login')}?next={request.path}")
    connection = _authorizable(request, pk)
    if request.method == "POST":
        try:
            return HttpResponseRedirect(
                flow.start(request, connection, reauthorize=connection.oauth_authorized)
            )
        except flow.AuthorizeError as exc:
            messages.error(request, str(exc))
    response = render(
        request,
        "connections/authorize.html",
        {"record": connection, "kind": KINDS["emailconnection"]},
    )
    response.context_data = {"record": connection}
    return allow_provider_redirect(response)


def oauth_callback(request: HttpRequest) -> HttpResponse:
    """The Redirect URL: the provider sends the operator back here with a code (or error)."""
    if not request.user.is_authenticated:
        return redirect(f"{reverse('login')}?next={request.get_full_path()}")
    if not request.user.has_perm("connections.authorize_emailconnection"):
        raise PermissionDenied
    try:
        connection = flow.finish(request)
    except flow.AuthorizeError as exc:
        messages.error(request, str(exc))
        if exc.connection is not None:
            return redirect(exc.connection.get_absolute_url())
        return render(request, "connections/authorize_failed.html", status=400)
    messages.success(
        request, f'Email Connection "{connection}" authorized as {connection.oauth_account}.'
    )
    if not connection.has_secret("oauth_refresh_token"):
        messages.warning(
            request,
            "The provider sent no refresh token: the connection works until the access token "
            "expires, then needs Reauthorize (Microsoft: include offline_access; Google: the "
            "app must ask for offline access).",
        )
    missing = connection.missing_scopes()
    if missing:
        messages.warning(request, f"Not granted by the provider: {' '.join(missing)}.")
    return redirect(connection.get_absolute_url())


def connection_disconnect(request: HttpRequest, pk: int) -> HttpResponse:
    """Forget the tokens (revoking them at the provider when it has a revocation endpoint)."""
    if not request.user.is_authenticated:
        return redirect(f"{reverse('login')}?next={request.path}")
    connection = _authorizable(request, pk)
    if request.method != "POST":
        return redirect(connection.get_absolute_url())
    problem = flow.disconnect(connection, request.user)
    messages.success(request, f'Email Connection "{connection}" disconnected: tokens forgotten.')
    if problem:
        messages.warning(request, problem)
    return redirect(connection.get_absolute_url())
