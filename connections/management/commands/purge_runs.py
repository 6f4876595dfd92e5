"""Prune old task runs: delete the ended runs queued more than --keep-days days ago."""

from django.core.management.base import BaseCommand, CommandError

from connections.tasks import runs


class Command(BaseCommand):
    help = "Delete the task runs (Succeeded or Failed) queued more than --keep-days days ago."

    def add_arguments(self, parser: object) -> None:
        parser.add_argument("--keep-days", type=int, required=True, help="days of runs kept")

    def handle(self, *args: object, keep_days: int, **kw: object) -> None:
        if keep_days < 0:
            raise CommandError("--keep-days must be 0 or more.")
        removed = runs.purge(keep_days)
        self.stdout.write(f"Removed {removed} runs older than {keep_days} days.")
