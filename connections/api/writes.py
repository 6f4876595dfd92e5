"""What an API write does once the JSON has the right shape: the same rules as the pages.

Both the conventional API and the seed-compatible one end here. Validation is the model's
full_clean() (so a rule lives once, in models.py) plus the form's rule that Password
authentication needs a password; saving is `records.save_record` with the token's user.
"""

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError

from connections import connection_test, records
from connections.api.serializers import Changes
from connections.mail.report import Report
from connections.models import EmailConnection, Record

PASSWORD_REQUIRED = "Required for Password authentication."


def apply(record: Record, changes: Changes) -> None:
    for name, value in changes.values.items():
        setattr(record, name, value)
    for name, plaintext in changes.secrets.items():
        record.set_secret(name, plaintext)


def validate(record: Record, exclude: Iterable[str] = (), password_typed: bool = False) -> None:
    """Raise ValidationError with every problem, keyed by field name."""
    errors: dict[str, list[str]] = {}
    try:
        record.full_clean(exclude=list(exclude))
    except ValidationError as exc:
        errors = {name: list(messages) for name, messages in exc.message_dict.items()}
    if needs_password(record) and not password_typed:
        errors.setdefault("password", []).append(PASSWORD_REQUIRED)
    if errors:
        raise ValidationError(errors)


def needs_password(record: Record) -> bool:
    return (
        isinstance(record, EmailConnection)
        and "password" in record.applicable_fields()
        and not record.has_secret("password")
    )


def save(record: Record, changes: Changes, user: Any) -> Record:
    """Create or update a record from API input; history names `user` (the token's)."""
    apply(record, changes)
    validate(record)
    return records.save_record(
        record, user, m2m=changes.m2m, expected_version=changes.version
    ).record


def test(
    stored: EmailConnection | None, changes: Changes, user: Any, recipient: str = ""
) -> Report:
    """Test a stored connection (with overrides, not saved) or unsaved parameters."""
    connection = EmailConnection.objects.get(pk=stored.pk) if stored else EmailConnection()
    password = changes.secrets.get("password", "")
    apply(connection, changes)  # on this unsaved copy only: a typed password may go elsewhere
    validate(connection, exclude=["name"], password_typed=bool(password))
    return connection_test.run_test(
        connection, user, stored=stored, password=password, recipient=recipient
    )
