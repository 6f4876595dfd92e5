"""Write records as an export document (the list pages' Export), to stdout or --output."""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from connections import transfer


class Command(BaseCommand):
    help = (
        "Export records (all, or those of --model / --name) as a JSON document without "
        "secrets; the records they refer to come with them unless --only-selected."
    )

    def add_arguments(self, parser: object) -> None:
        parser.add_argument(
            "--model",
            action="append",
            default=[],
            help=f"a record type ({', '.join(transfer.TYPES)}); repeatable",
        )
        parser.add_argument("--name", action="append", default=[], help="a record name; repeatable")
        parser.add_argument(
            "--only-selected",
            action="store_true",
            help="without the records the selection refers to",
        )
        parser.add_argument("--output", "-o", help="write to this file instead of stdout")
        parser.add_argument("--user", help="export what this user may see (default: all)")

    def handle(self, *args: object, **options: object) -> None:
        user = acting_user(options["user"])
        try:
            selected = transfer.select(user, options["model"], options["name"])
        except transfer.TransferError as exc:
            raise CommandError(" ".join(exc.problems)) from None
        document = transfer.export(selected, user, with_needed=not options["only_selected"])
        text = transfer.dumps(document)
        if options["output"]:
            Path(options["output"]).write_text(text, encoding="utf-8")
            self.stderr.write(
                f"Exported {len(document['records'])} records to {options['output']}."
            )
        else:
            self.stdout.write(text, ending="")


def acting_user(username: str | None) -> object:
    if not username:
        return None
    try:
        return get_user_model().objects.get(username=username)
    except get_user_model().DoesNotExist:
        raise CommandError(f"No user {username!r}.") from None
