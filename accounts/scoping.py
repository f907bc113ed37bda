"""Business-unit scope: which units' data a user may see, applied everywhere.

A unit's subtree is found by its materialised path (``BusinessUnit.path``), so a
scope filter is one ``path LIKE 'X/%'`` per scoped unit, never a walk of the tree.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce
from operator import or_

from django.db.models import Q, QuerySet

from accounts.roles import Role, user_roles


@dataclass(frozen=True)
class UnitScope:
    unrestricted: bool
    paths: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.unrestricted and not self.paths

    def q(self, field: str = "business_unit") -> Q:
        """A Q object limiting ``field`` (a FK to BusinessUnit) to this scope."""
        if self.unrestricted:
            return Q()
        if not self.paths:
            return Q(pk__in=[])
        prefix = f"{field}__path__startswith" if field else "path__startswith"
        return reduce(or_, (Q(**{prefix: path}) for path in self.paths))

    def filter(self, queryset: QuerySet, field: str = "business_unit") -> QuerySet:
        if self.unrestricted:
            return queryset
        if not self.paths:
            return queryset.none()
        return queryset.filter(self.q(field))


def unit_scope(user) -> UnitScope:
    """The scope of a user, cached on the user object for the request."""
    cached = getattr(user, "_cached_unit_scope", None)
    if cached is not None:
        return cached
    if not getattr(user, "is_authenticated", False):
        scope = UnitScope(unrestricted=False)
    else:
        paths = tuple(sorted(user.unit_scopes.values_list("business_unit__path", flat=True)))
        if paths:
            scope = UnitScope(unrestricted=False, paths=paths)
        elif user.is_superuser or (user_roles(user) - {Role.UNIT_VIEWER}):
            scope = UnitScope(unrestricted=True)
        else:
            scope = UnitScope(unrestricted=False)
    user._cached_unit_scope = scope
    return scope
