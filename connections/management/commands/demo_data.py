"""Demo data for a first look: services, OAuth clients, connections, templates and users."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand

from connections import records
from connections.models import BusinessService, EmailConnection, EmailTemplate, OAuthClient


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
        self.record(
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
        self.stdout.write(self.style.SUCCESS(f"Admin login: user admin, password {self.password}"))

    def users(self, password: str) -> tuple[object, Group]:
        user_model = get_user_model()
        admin, _ = user_model.objects.get_or_create(
            username="admin", defaults={"email": "admin@example.com"}
        )
        admin.is_staff = admin.is_superuser = True
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
