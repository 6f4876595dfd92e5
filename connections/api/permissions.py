"""Who may call what: the token's scope and the user's model permission, per action.

Each view names, per action, the scope the token needs (read for reads, write for
changes, test for tests) and the model permission the user needs (view/add/change/delete,
or connections.test_emailconnection), the same permissions the pages check.
"""

from typing import Any, NamedTuple

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from oauth2_provider.contrib.rest_framework import TokenHasScope
from rest_framework.request import Request


class Access(NamedTuple):
    scope: str
    permission: str


READ = "read", "view"
WRITE_ADD = "write", "add"
WRITE_CHANGE = "write", "change"
WRITE_DELETE = "write", "delete"
TEST = "test", "test"


class ScopeAndModelPermission(TokenHasScope):
    """The view answers `access(request) -> Access | None`; None lets the view say 405."""

    def has_permission(self, request: Request, view: Any) -> bool:
        access = view.access(request)
        if access is None:
            return True
        self.message = f'This token lacks the "{access.scope}" scope.'
        if not super().has_permission(request, view):
            return False
        if not has_perm(request.user, access.permission):
            self.message = f'You lack the permission "{access.permission}".'
            return False
        return True

    def get_scopes(self, request: Request, view: Any) -> list[str]:
        return [view.access(request).scope]


MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"


def has_perm(user: Any, permission: str) -> bool:
    """`user.has_perm(permission)`, asking the database for that one permission.

    With Django's ModelBackend alone, has_perm reads every permission of the user and every
    permission of their groups (two queries with joins) to answer about one. This asks the
    same tables the same question in one statement, written as SQL because the ORM took
    longer to build it than the database to run it (a tenth of an API list's time); with
    any other backend configured it is has_perm itself.
    """
    if list(settings.AUTHENTICATION_BACKENDS) != [MODEL_BACKEND]:
        return user.has_perm(permission)
    if not user.is_active:
        return False
    if user.is_superuser:
        return True
    app_label, codename = permission.split(".", 1)
    with connection.cursor() as cursor:
        cursor.execute(permission_sql(), [codename, app_label, user.pk, user.pk])
        return cursor.fetchone() is not None


def permission_sql() -> str:
    """Whether a user holds a permission (codename, app label), directly or through a group."""
    q = connection.ops.quote_name
    user_perms = get_user_model()._meta.get_field("user_permissions")
    user_groups = get_user_model()._meta.get_field("groups")
    group_perms = Group._meta.get_field("permissions")
    content_type = Permission._meta.get_field("content_type")
    codename = Permission._meta.get_field("codename").column
    app_label = ContentType._meta.get_field("app_label").column
    pk, ct_pk = Permission._meta.pk.column, ContentType._meta.pk.column
    up, ug, gp = (
        f.remote_field.through._meta.db_table for f in (user_perms, user_groups, group_perms)
    )
    # Only quoted table and column names from the models go into the text; values are params.
    return (
        f"SELECT 1 FROM {q(Permission._meta.db_table)} p "  # noqa: S608
        f"JOIN {q(ContentType._meta.db_table)} ct ON ct.{q(ct_pk)} = p.{q(content_type.column)} "
        f"WHERE p.{q(codename)} = %s AND ct.{q(app_label)} = %s AND ("
        f"EXISTS (SELECT 1 FROM {q(up)} up WHERE up.{q(user_perms.m2m_reverse_name())} = "
        f"p.{q(pk)} AND up.{q(user_perms.m2m_column_name())} = %s) OR "
        f"EXISTS (SELECT 1 FROM {q(gp)} gp JOIN {q(ug)} ug ON "
        f"ug.{q(user_groups.m2m_reverse_name())} = gp.{q(group_perms.m2m_column_name())} "
        f"WHERE gp.{q(group_perms.m2m_reverse_name())} = p.{q(pk)} "
        f"AND ug.{q(user_groups.m2m_column_name())} = %s)) LIMIT 1"
    )


def access_for(model: type, scope_and_action: tuple[str, str]) -> Access:
    scope, action = scope_and_action
    return Access(scope, f"{model._meta.app_label}.{action}_{model._meta.model_name}")
