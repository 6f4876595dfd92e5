"""Django's ModelBackend, reading a user's permissions in one query.

Every page asks a few permissions (the page's own, Add/Change/Delete for its buttons, the
menu's Notifications). Django's backend answers the first by reading the user's own and
their groups' permissions in two ORM queries with joins; here one SQL query reads both. The
answers are the same (tests/test_auth_backend.py compares them), cached on the user object for
the request as Django's are.
"""

from django.contrib.auth import backends, get_user_model
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.db.models.expressions import RawSQL


def permissions_sql(user: str = "%s", aggregate: bool = False) -> str:
    """The permissions a user holds, their own and their groups': rows of (app label,
    codename), or with `aggregate` one text "app.codename app.codename ..." for use as a
    subquery. `user` is a parameter mark or the user id column of the enclosing query. Only
    quoted names from the models go into the text."""
    q = connection.ops.quote_name
    own = get_user_model()._meta.get_field("user_permissions")
    groups = get_user_model()._meta.get_field("groups")
    granted = Group._meta.get_field("permissions").remote_field.through._meta
    app, codename = f"ct.{q('app_label')}", f"p.{q('codename')}"
    if aggregate:
        function = "string_agg" if connection.vendor == "postgresql" else "group_concat"
        selected = f"{function}({app} || '.' || {codename}, ' ')"
    else:
        selected = f"{app}, {codename}"
    sql = (
        f"SELECT {selected} FROM {q(Permission._meta.db_table)} p "  # noqa: S608
        f"JOIN {q(ContentType._meta.db_table)} ct ON ct.{q('id')} = p.{q('content_type_id')} "
        f"WHERE p.{q('id')} IN ("
        f"SELECT u.{q(own.m2m_reverse_name())} FROM "
        f"{q(own.remote_field.through._meta.db_table)} u "
        f"WHERE u.{q(own.m2m_column_name())} = {user} "
        f"UNION SELECT gp.{q('permission_id')} FROM {q(granted.db_table)} gp "
        f"JOIN {q(groups.remote_field.through._meta.db_table)} ug "
        f"ON ug.{q(groups.m2m_reverse_name())} = gp.{q('group_id')} "
        f"WHERE ug.{q(groups.m2m_column_name())} = {user})"
    )
    return f"({sql})" if aggregate else sql


class ModelBackend(backends.ModelBackend):
    def get_user(self, user_id: object) -> object:
        """The session's user with their permissions, in the one query that loads the user."""
        model = get_user_model()
        q = connection.ops.quote_name
        column = f"{q(model._meta.db_table)}.{q(model._meta.pk.column)}"
        try:
            user = model._default_manager.annotate(
                loaded_permissions=RawSQL(permissions_sql(column, aggregate=True), [])  # noqa: S611
            ).get(pk=user_id)
        except model.DoesNotExist:
            return None
        if not user.is_superuser:
            user._perm_cache = set((user.loaded_permissions or "").split())
        return user if self.user_can_authenticate(user) else None

    def get_all_permissions(self, user_obj: object, obj: object = None) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        if user_obj.is_superuser:
            return super().get_all_permissions(user_obj, obj)
        if not hasattr(user_obj, "_perm_cache"):
            with connection.cursor() as cursor:
                cursor.execute(permissions_sql(), [user_obj.pk, user_obj.pk])
                user_obj._perm_cache = {f"{app}.{codename}" for app, codename in cursor}
        return user_obj._perm_cache
