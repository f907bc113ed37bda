"""The roles. Each is a Django group; a user may hold several.

Commercial officers sit beside the four user roles because the business case
lets only finance and commercial roles see commercial data.
"""

from enum import StrEnum


class Role(StrEnum):
    ASSET_MANAGER = "Asset managers"
    FINANCE = "Finance officers"
    UNIT_VIEWER = "Business unit viewers"
    INTEGRATION = "Integrations"
    COMMERCIAL = "Commercial officers"


# The names operators type on the command line.
ROLE_SLUGS = {
    "asset-manager": Role.ASSET_MANAGER,
    "finance": Role.FINANCE,
    "unit-viewer": Role.UNIT_VIEWER,
    "integration": Role.INTEGRATION,
    "commercial": Role.COMMERCIAL,
}

# Roles that may see OFFICIAL-SENSITIVE [COMMERCIAL] figures (unit prices, contract values).
COMMERCIAL_ROLES = frozenset({Role.FINANCE, Role.COMMERCIAL})


def user_roles(user) -> set[Role]:
    """The roles a user holds, cached on the user object for the request."""
    if not getattr(user, "is_authenticated", False):
        return set()
    cached = getattr(user, "_cached_roles", None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))
        cached = {role for role in Role if role.value in names}
        user._cached_roles = cached
    return set(cached)


def has_role(user, *roles: Role) -> bool:
    if getattr(user, "is_superuser", False):
        return True
    return bool(user_roles(user) & set(roles))


def can_see_commercial(user) -> bool:
    """Unit prices and contract values are OFFICIAL-SENSITIVE [COMMERCIAL]."""
    return has_role(user, *COMMERCIAL_ROLES)


def require_role(
    user, *roles: Role, message: str = "Your role does not give access to this page."
) -> None:
    """Refuse (403) a user who holds none of ``roles``; superusers pass. The one page-level
    role check every app's views use."""
    if not has_role(user, *roles):
        from django.core.exceptions import PermissionDenied

        raise PermissionDenied(message)
