"""Create an API access token for a user and print it (for operators' scripts).

    TOKEN=$(python manage.py issue_token --user alice --scopes "read write" --expires-days 30)
    curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:8000/api/v1/connections/

Only the token goes to stdout, so that it can be captured; the rest goes to stderr.
The token belongs to an application "issue_token (<user>)", where the admin can see and
revoke it.
"""

import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application, set_token_value
from oauthlib.common import generate_token


class Command(BaseCommand):
    help = "Create an access token for a user and print it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--user", required=True, help="User name the token acts for.")
        parser.add_argument(
            "--scopes", default="read write test", help='Space-separated, e.g. "read write".'
        )
        parser.add_argument("--expires-days", type=int, default=30, help="Lifetime in days.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None or not user.is_active:
            raise CommandError(f"No active user named {options['user']!r}.")
        scopes = options["scopes"].split()
        known = settings.OAUTH2_PROVIDER["SCOPES"]
        unknown = [scope for scope in scopes if scope not in known]
        if unknown or not scopes:
            raise CommandError(
                f"Unknown scopes {', '.join(unknown) or '(none given)'}; known: {', '.join(known)}."
            )
        if options["expires_days"] < 1:
            raise CommandError("--expires-days must be at least 1.")
        expires = timezone.now() + datetime.timedelta(days=options["expires_days"])
        raw = generate_token()
        token = AccessToken(
            user=user,
            application=self.application_for(user),
            scope=" ".join(scopes),
            expires=expires,
        )
        # Only a checksum is stored when token storage is hashed (settings.OAUTH2_PROVIDER).
        set_token_value(token, raw)
        token.save()
        self.stderr.write(
            f"Token for {user.username}, scopes {token.scope}, expires {expires:%Y-%m-%d %H:%M %Z}."
        )
        self.stdout.write(raw)

    def application_for(self, user: Any) -> Application:
        app, _ = Application.objects.get_or_create(
            name=f"issue_token ({user.username})",
            user=user,
            defaults={
                "client_type": Application.CLIENT_CONFIDENTIAL,
                "authorization_grant_type": Application.GRANT_CLIENT_CREDENTIALS,
            },
        )
        return app
