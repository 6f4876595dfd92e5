"""Re-encrypt every stored secret with the first key of FIELD_ENCRYPTION_KEYS."""

from django.core.management.base import BaseCommand
from django.db import transaction

from connections import crypto
from connections.models import EmailConnection, OAuthClient

SECRET_COLUMNS = {
    EmailConnection: ("password_enc", "oauth_access_token_enc", "oauth_refresh_token_enc"),
    OAuthClient: ("client_secret_enc",),
}


class Command(BaseCommand):
    help = "Re-encrypt stored secrets with the newest key (put the new key first, then run)."

    @transaction.atomic
    def handle(self, *args: object, **options: object) -> None:
        count = 0
        for model, columns in SECRET_COLUMNS.items():
            for row in model.objects.only("pk", *columns).iterator():
                values = {c: crypto.rotate(getattr(row, c)) for c in columns if getattr(row, c)}
                if values:
                    # A key rotation is not a change of settings: no new version.
                    model.objects.filter(pk=row.pk).update(**values)
                    count += len(values)
        self.stdout.write(f"Re-encrypted {count} secrets.")
