"""Small builders for records, going through the same save path as the pages."""

from connections import records
from connections.models import BusinessService, EmailConnection, EmailTemplate, OAuthClient


def save(record: object, user: object = None, services: list | None = None) -> object:
    record.full_clean()
    m2m = {"business_services": services} if services is not None else None
    return records.save_record(record, user, m2m=m2m).record


def make_connection(user: object = None, password: str = "s3cret", **values: object) -> object:
    fields = {
        "name": "Mailer",
        "smtp_server": "127.0.0.1",
        "smtp_port": 2525,
        "email_address": "robot@example.com",
        "authentication": EmailConnection.Auth.PASSWORD,
        "user_name": "alice",
    }
    services = values.pop("services", None)
    fields.update(values)
    connection = EmailConnection(**fields)
    if password and connection.authentication == EmailConnection.Auth.PASSWORD:
        connection.set_secret("password", password)
    return save(connection, user, services)


def make_oauth_client(user: object = None, **values: object) -> object:
    secret = values.pop("secret", "client-secret-value")
    fields = {"name": "Entra", "provider": "microsoft", "client_id": "app-id"}
    fields.update(values)
    client = OAuthClient(**fields)
    client.set_secret("client_secret", secret)
    return save(client, user)


def make_template(connection: object, user: object = None, **values: object) -> object:
    fields = {"name": "Job failed", "connection": connection, "to": "ops@example.com", "body": "x"}
    services = values.pop("services", None)
    fields.update(values)
    return save(EmailTemplate(**fields), user, services)


def make_service(user: object = None, **values: object) -> object:
    return save(BusinessService(**{"name": "Accounting", **values}), user)


def connection_form(**overrides: object) -> dict:
    """POST data of the Email Connection form, as a browser would send it."""
    data = {
        "name": "Invoices",
        "description": "",
        "connection_type": "outgoing",
        "smtp_server": "smtp.example.com",
        "smtp_port": "587",
        "imap_server": "",
        "imap_port": "143",
        "enable_starttls": "on",
        "email_address": "invoices@example.com",
        "authentication": "password",
        "user_name": "invoices",
        "password": "pa55word",
        "trash_folder": "",
        "_save": "",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def text(response: object) -> str:
    """The page as an operator reads it (entities unescaped)."""
    import html

    return html.unescape(response.content.decode())
