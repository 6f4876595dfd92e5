"""List filters per record type (django-filter); search and sort live in the list view."""

import django_filters
from django.db.models import Q, QuerySet

from connections.models import (
    BusinessService,
    EmailConnection,
    EmailMonitorTask,
    EmailTask,
    EmailTemplate,
    MemberOf,
    OAuthClient,
)
from connections.task_models import RunStatus, Schedule
from connections.tasks import monitor


class GroupedRecordFilter(django_filters.FilterSet):
    # The choices are the Business Services the user may see, read in one small query.
    business_services = django_filters.ChoiceFilter(
        label="Business Service", choices=[], method="filter_services"
    )

    def __init__(self, *args: object, user: object = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if isinstance(self.filters.get("business_services"), django_filters.ChoiceFilter):
            services = BusinessService.objects.order_by("name")
            if user is not None and not user.is_superuser:
                services = services.of_member(user)
            choices = [(str(pk), name) for pk, name in services.values_list("pk", "name")]
            self.filters["business_services"].extra["choices"] = choices

    def filter_services(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # A probe of the membership index per row (not a join): the list's sort index still
        # serves the page, and no row is repeated.
        return queryset.filter(MemberOf(queryset.model, int(value)))


class EmailConnectionFilter(GroupedRecordFilter):
    connection_type = django_filters.ChoiceFilter(
        label="Type", choices=EmailConnection.Type.choices
    )
    authentication = django_filters.ChoiceFilter(
        label="Authentication", choices=EmailConnection.Auth.choices
    )
    status = django_filters.ChoiceFilter(
        label="Status", choices=EmailConnection.Status.choices, method="filter_status"
    )

    class Meta:
        model = EmailConnection
        fields = ["connection_type", "authentication", "business_services", "status"]

    def filter_status(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # The status a row shows: Reauthorization needed first, then the last Test.
        reauth = Q(authentication=EmailConnection.Auth.OAUTH2, oauth_needs_reauth=True)
        if value == EmailConnection.Status.REAUTHORIZE:
            return queryset.filter(reauth)
        queryset = queryset.exclude(reauth)
        if value == EmailConnection.Status.UNTESTED:
            return queryset.filter(last_test_ok__isnull=True)
        return queryset.filter(last_test_ok=(value == EmailConnection.Status.OK))


class EmailTemplateFilter(GroupedRecordFilter):
    class Meta:
        model = EmailTemplate
        fields = ["business_services"]


class TaskFilter(GroupedRecordFilter):
    schedule = django_filters.ChoiceFilter(label="Schedule", choices=Schedule.choices)
    enabled = django_filters.BooleanFilter(label="Enabled")
    last_run_status = django_filters.ChoiceFilter(label="Last Run", choices=RunStatus.choices)


class EmailTaskFilter(TaskFilter):
    class Meta:
        model = EmailTask
        fields = ["schedule", "enabled", "last_run_status", "business_services"]


class EmailMonitorTaskFilter(TaskFilter):
    action = django_filters.ChoiceFilter(label="Action", choices=monitor.Action.choices)

    class Meta:
        model = EmailMonitorTask
        fields = ["action", "schedule", "enabled", "last_run_status", "business_services"]


class OAuthClientFilter(GroupedRecordFilter):
    provider = django_filters.ChoiceFilter(label="Provider", choices=OAuthClient.Provider.choices)

    class Meta:
        model = OAuthClient
        fields = ["provider", "business_services"]


class BusinessServiceFilter(django_filters.FilterSet):
    def __init__(self, *args: object, user: object = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)

    class Meta:
        model = BusinessService
        fields: list[str] = []
