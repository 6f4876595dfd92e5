"""Who may call what: the token's scope and the user's model permission, per action.

Each view names, per action, the scope the token needs (read for reads, write for
changes, test for tests) and the model permission the user needs (view/add/change/delete,
or connections.test_emailconnection), the same permissions the pages check.
"""

from typing import Any, NamedTuple

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
        # One query for the user's permissions (connections.auth.ModelBackend).
        if not request.user.has_perm(access.permission):
            self.message = f'You lack the permission "{access.permission}".'
            return False
        return True

    def get_scopes(self, request: Request, view: Any) -> list[str]:
        return [view.access(request).scope]


def access_for(model: type, scope_and_action: tuple[str, str]) -> Access:
    scope, action = scope_and_action
    return Access(scope, f"{model._meta.app_label}.{action}_{model._meta.model_name}")
