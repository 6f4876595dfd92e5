"""Demo data for a first look: services, OAuth clients, connections, templates, tasks and
users."""

import os
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand
from django.urls import reverse
from oauth2_provider.models import Application

from connections import records
from connections.models import (
    BusinessService,
    EmailConnection,
    EmailMonitorTask,
    EmailTask,
    EmailTemplate,
    OAuthClient,
)

# The console's registration at its own OAuth server (/o/), which stands in for Microsoft
# and Google on a machine that cannot reach them.
LOCAL_PROVIDER = "Local test provider"
LOCAL_CLIENT_ID = "email-console-local"


class Command(BaseCommand):
    help = "Load demo records (idempotent) and print an admin login."

    def add_arguments(self, parser: object) -> None:
        parser.add_argument("--password", help="Admin password (default: a new random one)")

    def handle(self, *args: object, password: str | None = None, **options: object) -> None:
        admin, operators = self.users(password or secrets.token_urlsafe(12))
        services = {
            name: self.record(BusinessService, admin, name=name, description=text)
            for name, text in (
                ("Accounting", "Invoices and payment runs"),
                ("Operations", "Scheduler notifications and mailbox monitors"),
                ("Marketing", "Campaign mailings"),
            )
        }
        services["Accounting"].groups.add(operators)
        microsoft = self.record(
            OAuthClient,
            admin,
            name="Contoso Entra ID",
            provider="microsoft",
            tenant_id="contoso.onmicrosoft.com",
            client_id="11111111-2222-3333-4444-555555555555",
            secret=("client_secret", "demo-microsoft-secret"),
        )
        self.record(
            OAuthClient,
            admin,
            name="Google Workspace",
            provider="google",
            client_id="1234567890-demo.apps.googleusercontent.com",
            secret=("client_secret", "demo-google-secret"),
        )
        self.record(
            OAuthClient,
            admin,
            name="Corporate IdP",
            provider="custom",
            client_id="email-console",
            authorization_endpoint="https://idp.example.com/oauth2/authorize",
            token_endpoint="https://idp.example.com/oauth2/token",
            scopes="smtp imap offline",
        )
        system = self.record(
            EmailConnection,
            admin,
            name="Platform notifications",
            smtp_server="smtp.example.com",
            smtp_port=587,
            enable_starttls=True,
            email_address="scheduler@example.com",
            user_name="scheduler@example.com",
            system_connection=True,
            secret=("password", "demo-password"),
            services=[services["Operations"]],
        )
        invoices = self.record(
            EmailConnection,
            admin,
            name="Accounting SMTP",
            smtp_server="mail.example.com",
            smtp_port=465,
            enable_ssl=True,
            email_address="invoices@example.com",
            user_name="invoices",
            secret=("password", "demo-password"),
            services=[services["Accounting"]],
        )
        self.record(
            EmailConnection,
            admin,
            name="Office 365 sender",
            smtp_server="smtp.office365.com",
            smtp_port=587,
            enable_starttls=True,
            email_address="robot@contoso.com",
            authentication="oauth2",
            user_name="robot@contoso.com",
            oauth_client=microsoft,
        )
        self.record(
            EmailConnection,
            admin,
            name="Relay (no auth)",
            smtp_server="relay.internal",
            smtp_port=25,
            email_address="noreply@example.com",
            authentication="none",
            services=[services["Marketing"]],
        )
        self.record(
            EmailConnection,
            admin,
            name="Support mailbox",
            connection_type="incoming",
            imap_server="imap.example.com",
            imap_port=993,
            enable_ssl=True,
            email_address="support@example.com",
            user_name="support@example.com",
            trash_folder="Trash",
            secret=("password", "demo-password"),
            services=[services["Operations"]],
        )
        self.record(
            EmailConnection,
            admin,
            name="Office 365 inbox",
            connection_type="incoming",
            imap_server="outlook.office365.com",
            imap_port=993,
            enable_ssl=True,
            email_address="robot@contoso.com",
            authentication="oauth2",
            user_name="robot@contoso.com",
            oauth_client=microsoft,
            trash_folder="Deleted Items",
        )
        local = self.local_provider(admin)
        self.record(
            EmailConnection,
            admin,
            name="Local mailbox (OAuth)",
            description="Click Authorize: you sign in at this app's own OAuth server as the "
            "demo admin. Test then needs an SMTP server on 127.0.0.1:2525 that takes XOAUTH2.",
            smtp_server="127.0.0.1",
            smtp_port=2525,
            email_address=admin.email,
            authentication="oauth2",
            user_name=admin.email,
            oauth_client=local,
        )
        job_failed = self.record(
            EmailTemplate,
            admin,
            name="Job failed",
            connection=system,
            to="ops@example.com",
            cc="oncall@example.com",
            subject="Job ${job_name} failed",
            body="Job ${job_name} failed at ${time} on ${agent}.\n\nSee the Controller.",
            services=[services["Operations"]],
        )
        self.record(
            EmailTemplate,
            admin,
            name="Invoice run finished",
            connection=invoices,
            to="finance@example.com",
            reply_to="invoices@example.com",
            subject="Invoice run ${run_id} done",
            body="${count} invoices were sent.",
            services=[services["Accounting"]],
        )
        self.record(
            EmailTask,
            admin,
            name="Nightly job failed",
            description="Run now asks for the values; the schedule is off until Enabled.",
            template=job_failed,
            variables={"job_name": "nightly-export", "time": "02:00", "agent": "agent-1"},
            schedule="cron",
            cron_expression="0 6 * * 1-5",
            enabled=False,
            services=[services["Operations"]],
        )
        self.record(
            EmailMonitorTask,
            admin,
            name="Support bounces",
            connection=EmailConnection.objects.get(name="Support mailbox"),
            subject_operator="contains",
            subject_value="Undelivered",
            action="move_mark_read",
            move_folder="Bounces",
            schedule="interval",
            interval_minutes=15,
            enabled=False,
            services=[services["Operations"]],
        )
        self.stdout.write(self.style.SUCCESS(f"Admin login: user admin, password {self.password}"))

    def users(self, password: str) -> tuple[object, Group]:
        user_model = get_user_model()
        admin, _ = user_model.objects.get_or_create(
            username="admin", defaults={"email": "admin@example.com"}
        )
        admin.is_staff = admin.is_superuser = True
        admin.email = admin.email or "admin@example.com"  # the account "Local mailbox" logs in as
        admin.set_password(password)
        admin.save()
        self.password = password
        operators, _ = Group.objects.get_or_create(name="Operators")
        operators.permissions.set(
            Permission.objects.filter(content_type__app_label="connections").exclude(
                codename__startswith="delete_businessservice"
            )
        )
        return admin, operators

    def local_provider(self, admin: object) -> OAuthClient:
        """A Custom OAuth Client at this app's own /o/, and its DOT Application (confidential,
        authorization code, RS256) registered with the Redirect URL. The client secret exists
        in plain text only in the OAuth Client (encrypted): DOT keeps a hash of it."""
        base = settings.PUBLIC_BASE_URL or f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"
        endpoints = {
            "authorization_endpoint": f"{base}/o/authorize/",
            "token_endpoint": f"{base}/o/token/",
            "userinfo_endpoint": f"{base}/o/userinfo/",
            "revocation_endpoint": f"{base}/o/revoke_token/",
        }
        client = OAuthClient.objects.filter(name=LOCAL_PROVIDER).first()
        secret = client.get_secret("client_secret") if client else secrets.token_urlsafe(32)
        if client is None:
            client = self.record(
                OAuthClient,
                admin,
                name=LOCAL_PROVIDER,
                description="This app's own OAuth server, standing in for Microsoft and Google.",
                provider="custom",
                client_id=LOCAL_CLIENT_ID,
                scopes="openid email",
                secret=("client_secret", secret),
                **endpoints,
            )
        elif any(getattr(client, name) != url for name, url in endpoints.items()):
            # served at another address or port than last time: follow it
            for name, url in endpoints.items():
                setattr(client, name, url)
            client.full_clean()
            records.save_record(client, admin, reason=f"Demo data: served at {base}")
        redirect_url = base + reverse("connections:oauth-callback")
        Application.objects.update_or_create(
            client_id=client.client_id,
            defaults={"redirect_uris": redirect_url},
            create_defaults={
                "name": "Email Connections console (local test provider)",
                "client_secret": secret,
                "client_type": Application.CLIENT_CONFIDENTIAL,
                "authorization_grant_type": Application.GRANT_AUTHORIZATION_CODE,
                "redirect_uris": redirect_url,
                "algorithm": Application.RS256_ALGORITHM,
                "user": admin,
            },
        )
        return client

    def record(
        self,
        model: type,
        user: object,
        secret: tuple | None = None,
        services: list | None = None,
        **values: object,
    ) -> object:
        existing = model.objects.filter(name=values["name"]).first()
        if existing:
            return existing
        record = model(**values)
        if secret:
            record.set_secret(*secret)
        record.full_clean()
        m2m = {"business_services": services} if services else None
        return records.save_record(record, user, m2m=m2m, reason="Demo data").record
