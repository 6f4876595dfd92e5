"""The Business Services column's sort key, kept with the memberships it is derived from.

Lists sort by a record's first Business Service (by name). Computed per row, that sort reads
every row of the table; stored in `services_sort` with an index, a page is an index range.
The key is refreshed whenever it can change: memberships added, removed or cleared from
either side (`m2m_changed`, whoever changes them: pages, admin, API, import, tests), a
service renamed, a service deleted (its memberships go without signals, so they are read
before the delete).
"""

from collections.abc import Iterable

from django.db.models import Min, OuterRef, Subquery
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete

from connections.models import BusinessService, GroupedRecord


def grouped_models() -> list[type[GroupedRecord]]:
    from django.apps import apps

    return [
        m for m in apps.get_app_config("connections").get_models() if issubclass(m, GroupedRecord)
    ]


def refresh(model: type[GroupedRecord], pks: Iterable[int] | None = None) -> int:
    """Recompute the key of `model`'s records `pks` (all when None) in one UPDATE."""
    through = model.business_services.through
    owner = model._meta.model_name
    first = (
        through.objects.filter(**{owner: OuterRef("pk")})
        .values(owner)
        .annotate(first=Min("businessservice__name"))
        .values("first")
    )
    rows = model.objects.all() if pks is None else model.objects.filter(pk__in=list(pks))
    return rows.update(services_sort=Subquery(first[:1]))


def members(service: BusinessService) -> dict[type, list[int]]:
    return {
        model: list(
            model.business_services.through.objects.filter(businessservice=service).values_list(
                model._meta.model_name, flat=True
            )
        )
        for model in grouped_models()
    }


def memberships_changed(
    sender: type,
    instance: object,
    action: str,
    reverse: bool,
    model: type,
    pk_set: set | None,
    **kwargs: object,
) -> None:
    if action == "pre_clear" and reverse:
        instance._sort_members = members(instance)
        return
    if action not in ("post_add", "post_remove", "post_clear"):
        return
    if not reverse:  # record.business_services.add/remove/clear/set
        refresh(type(instance), [instance.pk])
    elif action == "post_clear":  # service.<records>_members.clear()
        for grouped, pks in getattr(instance, "_sort_members", {}).items():
            refresh(grouped, pks)
    elif pk_set:  # service.<records>_members.add/remove(records)
        refresh(model, pk_set)


def service_saved(instance: BusinessService, created: bool, **kwargs: object) -> None:
    if not created:
        for model, pks in members(instance).items():
            if pks:
                refresh(model, pks)


def service_deleting(instance: BusinessService, **kwargs: object) -> None:
    instance._sort_members = members(instance)


def service_deleted(instance: BusinessService, **kwargs: object) -> None:
    for model, pks in getattr(instance, "_sort_members", {}).items():
        if pks:
            refresh(model, pks)


def install() -> None:
    for model in grouped_models():
        m2m_changed.connect(
            memberships_changed,
            sender=model.business_services.through,
            dispatch_uid=f"services_sort_{model._meta.model_name}",
        )
    post_save.connect(service_saved, sender=BusinessService, dispatch_uid="services_sort_save")
    pre_delete.connect(service_deleting, sender=BusinessService, dispatch_uid="services_sort_pre")
    post_delete.connect(service_deleted, sender=BusinessService, dispatch_uid="services_sort_del")
