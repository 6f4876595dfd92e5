"""The automation manager's SMTP connections API, translated to Email Connections.

Its bodies carry settings as lists of {"name", "value"} ("connection_parameters",
"conn_params"). This module turns such a list into Email Connection fields and back, and
gives errors under the parameter names the caller used (`port`, not `smtp_port`).
Only Outgoing connections are SMTP connections; an Incoming id is unknown here.
"""

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.core.exceptions import ValidationError as ModelValidationError
from django.core.validators import validate_email
from rest_framework import serializers
from rest_framework.exceptions import ErrorDetail, NotFound, PermissionDenied

from connections.api import writes
from connections.api.fields import whole_number
from connections.api.serializers import Changes
from connections.models import BusinessService, EmailConnection, OAuthClient

# Parameter name -> Email Connection field.
FIELDS = {
    "hostname": "smtp_server",
    "port": "smtp_port",
    "username": "user_name",
    "password": "password",
    "email_address": "email_address",
    "enable_ssl": "enable_ssl",
    "enable_starttls": "enable_starttls",
    "authentication": "authentication",
    "system_connection": "system_connection",
    "oauth_client": "oauth_client",
}
PARAMETERS = {field: name for name, field in FIELDS.items()}
AUTHENTICATION = {
    "none": "none",
    "password": "password",
    "oauth2": "oauth2",
    "None": "none",
    "Password": "password",
    "OAuth 2.0": "oauth2",
}
BOOLEANS = {True: True, False: False, "true": True, "false": False}
MAX_SECRET = 1000


class Invalid(ValueError):
    def __init__(self, message: str, code: str = "invalid") -> None:
        super().__init__(message)
        self.code = code


def text(value: Any, user: Any) -> str:
    if not isinstance(value, str):
        raise Invalid(f"Expected a string, got {json_type(value)}.")
    if "\x00" in value:
        raise Invalid("Null characters are not allowed.")
    return value.strip()


def secret(value: Any, user: Any) -> str:
    """Like text, but kept exactly as given: spaces can be part of a password."""
    text(value, user)
    if len(value) > MAX_SECRET:
        raise Invalid(f"At most {MAX_SECRET} characters.")
    return value


def address(value: Any, user: Any) -> str:
    value = text(value, user)
    try:
        validate_email(value)
    except ModelValidationError:
        raise Invalid(f"{value!r} is not an email address.") from None
    return value


def port(value: Any, user: Any) -> int:
    if isinstance(value, str) and value.strip().isdigit() and value.strip().isascii():
        value = int(value.strip())
    value = whole_number(value) if not isinstance(value, str) else value
    if not isinstance(value, int):
        raise Invalid(f"Expected a port number from 1 to 65535, got {value!r}.")
    if not 1 <= value <= 65535:
        raise Invalid(f"A port is from 1 to 65535, not {value}.")
    return value


def boolean(value: Any, user: Any) -> bool:
    if isinstance(value, bool | str) and value in BOOLEANS:
        return BOOLEANS[value]
    raise Invalid(f"Expected true or false, got {value!r}.")


def authentication(value: Any, user: Any) -> str:
    if isinstance(value, str) and value in AUTHENTICATION:
        return AUTHENTICATION[value]
    raise Invalid(f"Expected one of {', '.join(AUTHENTICATION)}; got {value!r}.")


def oauth_client(value: Any, user: Any) -> OAuthClient:
    """An OAuth Client by name or id, among those the user can see."""
    clients = OAuthClient.objects.visible_to(user)
    number = whole_number(value)
    if number is not None:
        found = clients.filter(pk=number).first() if abs(number) < 2**63 else None
    elif isinstance(value, str):
        found = clients.filter(name__iexact=value.strip()).first() if "\x00" not in value else None
    else:
        raise Invalid(f"Expected an OAuth Client name or id, got {json_type(value)}.")
    if found is None:
        raise Invalid(f"No OAuth Client {value!r} that you can use.", code="does_not_exist")
    return found


CONVERT = {
    "hostname": text,
    "port": port,
    "username": text,
    "password": secret,
    "email_address": address,
    "enable_ssl": boolean,
    "enable_starttls": boolean,
    "authentication": authentication,
    "system_connection": boolean,
    "oauth_client": oauth_client,
}


def json_type(value: Any) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


class ParametersField(serializers.Field):
    """A list of {"name": ..., "value": ...}; returns [(name, raw value), ...] in order."""

    default_error_messages = {
        "not_a_list": 'Expected a list of {{"name": ..., "value": ...}}, got {got}.',
    }

    def to_internal_value(self, data: Any) -> list[tuple[str, Any]]:
        if not isinstance(data, list):
            self.fail("not_a_list", got=json_type(data))
        pairs, problems, seen = [], [], set()
        for number, entry in enumerate(data, start=1):
            problem = entry_problem(number, entry, seen)
            if problem:
                problems.append(problem)
                continue
            seen.add(entry["name"])
            pairs.append((entry["name"], entry["value"]))
        if problems:
            raise serializers.ValidationError(problems)
        return pairs

    def to_representation(self, value: Any) -> Any:
        return value


def entry_problem(number: int, entry: Any, seen: set[str]) -> str:
    if not isinstance(entry, dict):
        return f"Entry {number} is {json_type(entry)}, not an object with name and value."
    if "name" not in entry:
        return f"Entry {number} has no name."
    name = entry["name"]
    if not isinstance(name, str) or name not in FIELDS:
        return f"Entry {number}: unknown parameter {name!r}; known: {', '.join(FIELDS)}."
    extra = sorted(set(entry) - {"name", "value"})
    if extra:
        return f"Entry {number} ({name}): unknown keys {', '.join(map(repr, extra))}."
    if "value" not in entry:
        return f"Entry {number} ({name}) has no value."
    if name in seen:
        return f"Entry {number}: parameter {name!r} is given more than once."
    return ""


def to_fields(pairs: list[tuple[str, Any]], user: Any) -> dict[str, Any]:
    """Parameter pairs -> Email Connection field values; errors under parameter names."""
    values, errors = {}, {}
    for name, raw in pairs:
        try:
            values[FIELDS[name]] = CONVERT[name](raw, user)
        except Invalid as exc:
            errors[name] = [ErrorDetail(str(exc), code=exc.code)]
    if errors:
        raise serializers.ValidationError(errors)
    return values


def changes_for(values: dict[str, Any], creating: bool) -> Changes:
    """Split out the password; a new connection gets the seed's implied defaults."""
    values = dict(values)
    secrets = {"password": values.pop("password")} if "password" in values else {}
    if creating:
        values["connection_type"] = EmailConnection.Type.OUTGOING
        if "authentication" not in values:
            # The seed has no authentication parameter: a user name or password means login.
            login = values.get("user_name") or secrets.get("password")
            values["authentication"] = "password" if login else "none"
        if "email_address" not in values:
            values["email_address"] = default_sender(
                values.get("user_name", ""), values.get("smtp_server", "")
            )
    return Changes(values=values, secrets=secrets)


def default_sender(username: str, hostname: str) -> str:
    """The seed has no sender address: the first of these that is an address.

    username, username@hostname, username@localhost (noreply for a missing username or
    one that cannot start an address), noreply@localhost. Set email_address for real use.
    """
    local = username or "noreply"
    for candidate in (username, f"{local}@{hostname}", f"{local}@localhost"):
        try:
            validate_email(candidate)
        except ModelValidationError:
            continue
        return candidate
    return "noreply@localhost"


@contextmanager
def parameter_names() -> Iterator[None]:
    """Report the model's field errors under the seed's parameter names."""
    try:
        yield
    except ModelValidationError as exc:
        raise ModelValidationError(
            {PARAMETERS.get(name, name): messages for name, messages in exc.message_dict.items()}
        ) from exc


def smtp_connections(user: Any) -> Any:
    return EmailConnection.objects.visible_to(user).outgoing()


# The list comes a page at a time: `limit` connections (default and most below) from `offset`.
PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000


def page_bounds(query: Any) -> tuple[int, int]:
    """?limit= and ?offset= as whole numbers; anything else is a 400 naming the parameter."""
    bounds, errors = {}, {}
    for name, default, least, most in (
        ("limit", PAGE_SIZE, 1, MAX_PAGE_SIZE),
        ("offset", 0, 0, 2**63 - 1),
    ):
        value = query.get(name)
        if value is None:
            bounds[name] = default
        elif value.isascii() and value.isdigit() and least <= int(value) <= most:
            bounds[name] = int(value)
        else:
            errors[name] = [f"A whole number from {least} to {most}."]
    if errors:
        raise serializers.ValidationError(errors)
    return bounds["limit"], bounds["offset"]


def get_smtp_connection(user: Any, ident: Any) -> EmailConnection:
    """By id or uuid; 404 for unknown ids, another team's, and Incoming connections."""
    visible = EmailConnection.objects.visible_to(user)
    found = None
    number = whole_number(ident)
    if number is not None:
        found = visible.filter(pk=number).first() if 0 < number < 2**63 else None
    elif isinstance(ident, str) and ident.isdigit() and ident.isascii() and len(ident) < 19:
        found = visible.filter(pk=int(ident)).first()
    elif isinstance(ident, str):
        try:
            found = visible.filter(uuid=uuid.UUID(ident)).first()
        except ValueError:
            found = None
    if found is None:
        raise NotFound(f"No SMTP connection with id {ident!r}.")
    if not found.is_outgoing:
        raise NotFound(
            f'Email Connection "{found}" (id {found.pk}) is an Incoming (IMAP) connection, '
            "not an SMTP connection."
        )
    return found


def business_service(user: Any, name: str | None, assigning: bool = False) -> Any:
    """The service named by ace_orgGuid; None for `all` or no value.

    Listing may name any service; creating assigns the record to it, which only its
    members (and superusers) may do.
    """
    if not name or name.strip().lower() == "all":
        return None
    found = None
    if "\x00" not in name:
        found = BusinessService.objects.filter(name__iexact=name.strip()).first()
    if found is None:
        raise NotFound(f"No Business Service named {name!r} (ace_orgGuid).")
    if assigning and not (user.is_superuser or found in BusinessService.objects.of_member(user)):
        raise PermissionDenied(
            f'You are not a member of Business Service "{found}" (ace_orgGuid), so you cannot '
            "assign connections to it."
        )
    return found


def create(name: str, description: str, pairs: list, service: Any, user: Any) -> EmailConnection:
    changes = changes_for(to_fields(pairs, user), creating=True)
    changes.values.update(name=name, description=description)
    if service is not None:
        changes.m2m = {"business_services": [service]}
    with parameter_names():
        return writes.save(EmailConnection(), changes, user)


def patch(connection: EmailConnection, pairs: list, version: int | None, user: Any) -> Any:
    changes = changes_for(to_fields(pairs, user), creating=False)
    changes.version = version
    with parameter_names():
        return writes.save(connection, changes, user)


def test(stored: EmailConnection | None, pairs: list, recipient: str, user: Any) -> Any:
    changes = changes_for(to_fields(pairs, user), creating=stored is None)
    # A test sends no notifications; whether the connection is the system one is moot.
    changes.values.pop("system_connection", None)
    with parameter_names():
        return writes.test(stored, changes, user, recipient=recipient)


def parameters_of(connection: EmailConnection) -> list[dict[str, Any]]:
    """A connection as the seed's parameter list; the password only as password_set."""
    parameters = [
        ("hostname", connection.smtp_server),
        ("port", connection.smtp_port),
        ("username", connection.user_name),
        ("email_address", connection.email_address),
        ("enable_ssl", connection.enable_ssl),
        ("enable_starttls", connection.enable_starttls),
        ("authentication", connection.authentication),
        ("system_connection", connection.system_connection),
        ("password_set", connection.has_secret("password")),
    ]
    if connection.oauth_client_id:
        parameters.append(("oauth_client", connection.oauth_client.name))
    return [{"name": name, "value": value} for name, value in parameters]
