"""Prune old versions: keep the newest N per record (the Controller's "Purge Versions")."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.db.models import Count

from connections.models import (
    BusinessService,
    EmailConnection,
    EmailMonitorTask,
    EmailTask,
    EmailTemplate,
    OAuthClient,
)

MODELS = {
    m._meta.model_name: m
    for m in (
        EmailConnection,
        EmailTemplate,
        OAuthClient,
        BusinessService,
        EmailTask,
        EmailMonitorTask,
    )
}


class Command(BaseCommand):
    # The report goes to stdout once: logging it too printed every line twice on a terminal.
    help = "Delete versions beyond the newest --keep per record, reporting what was removed."

    def add_arguments(self, parser: object) -> None:
        parser.add_argument("--keep", type=int, required=True, help="versions kept per record")
        parser.add_argument("--model", choices=sorted(MODELS), help="only this record type")
        parser.add_argument("--dry-run", action="store_true", help="report, delete nothing")

    def handle(
        self, *args: object, keep: int, model: str | None, dry_run: bool, **kw: object
    ) -> None:
        if keep < 1:
            raise CommandError("--keep must be at least 1: the current version is always kept.")
        total = 0
        for name, record_model in MODELS.items():
            if model and name != model:
                continue
            total += self.purge(record_model, keep, dry_run)
        verb = "Would remove" if dry_run else "Removed"
        self.stdout.write(f"{verb} {total} versions in all.")

    @transaction.atomic
    def purge(self, record_model: type, keep: int, dry_run: bool) -> int:
        history = record_model.history.model
        crowded = history.objects.values("id").annotate(n=Count("history_id")).filter(n__gt=keep)
        removed = 0
        for row in crowded:
            old = history.objects.filter(id=row["id"]).order_by("-history_id")[keep:]
            ids = list(old.values_list("history_id", flat=True))
            versions = sorted(
                history.objects.filter(history_id__in=ids).values_list("version", flat=True)
            )
            message = (
                f"{record_model._meta.verbose_name} id={row['id']}: "
                f"{'would remove' if dry_run else 'removed'} {len(ids)} versions "
                f"({versions[0]}..{versions[-1]}), kept the newest {keep}"
            )
            self.stdout.write(message)
            if not dry_run:
                history.objects.filter(history_id__in=ids).delete()
            removed += len(ids)
        return removed
