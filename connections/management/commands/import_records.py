"""Import an export document through the save path, all or nothing (the Import page's Apply)."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from connections import transfer
from connections.management.commands.export_records import acting_user


class Command(BaseCommand):
    help = (
        "Import records from an export file: each is created, updated or unchanged, in one "
        "transaction; --dry-run shows what would happen and changes nothing."
    )

    def add_arguments(self, parser: object) -> None:
        parser.add_argument("file", help="the JSON export file")
        parser.add_argument("--dry-run", action="store_true", help="preview, change nothing")
        parser.add_argument("--user", help="act as this user (history, permissions, scoping)")

    def handle(self, *args: object, file: str, dry_run: bool, **options: object) -> None:
        user = acting_user(options["user"])
        path = Path(file)
        try:
            if path.stat().st_size > transfer.max_bytes():
                raise transfer.TransferError(
                    [f"The file is larger than the limit of {transfer.max_bytes() // 1024} KiB."]
                )
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"Cannot read {file}: {exc.strerror}.") from None
        except transfer.TransferError as exc:
            raise CommandError(" ".join(exc.problems)) from None
        try:
            plan = transfer.run(data, user, path.name, dry_run=dry_run)
        except transfer.TransferError as exc:
            raise CommandError("Nothing imported:\n" + "\n".join(exc.problems)) from None
        for outcome in plan.outcomes:
            details = "; ".join(
                [", ".join(outcome.changed)] * bool(outcome.changed) + outcome.notes
            )
            line = f'{outcome.action:<9} {outcome.type_label} "{outcome.name}"'
            self.stdout.write(f"{line}: {details}" if details else line)
        if plan.conflicts:
            raise CommandError("Nothing imported: resolve the conflicts first.")
        verb = "Would import" if dry_run else "Imported"
        self.stdout.write(f"{verb} {path.name}: {plan.summary()}.")
