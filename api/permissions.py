"""Who may use the estate API.

Reading: every role (unit viewers within their scope, which ``unit_scope``
enforces in the querysets). Writing devices and events: integration accounts
and asset managers only. A user with no role gets nothing.
"""

from rest_framework.permissions import SAFE_METHODS, BasePermission

from accounts.roles import Role, has_role

READ_ROLES = (
    Role.ASSET_MANAGER,
    Role.FINANCE,
    Role.COMMERCIAL,
    Role.UNIT_VIEWER,
    Role.INTEGRATION,
)
WRITE_ROLES = (Role.ASSET_MANAGER, Role.INTEGRATION)


class EstatePermission(BasePermission):
    message = "Your role does not allow this."

    def has_permission(self, request, view):
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in SAFE_METHODS:
            return has_role(user, *READ_ROLES)
        return has_role(user, *WRITE_ROLES)
