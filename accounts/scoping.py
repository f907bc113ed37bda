"""Business-unit scope: which units' data a user may see, applied everywhere.

A unit's subtree is found by its materialised path (``BusinessUnit.path``), so a
scope filter is one ``path LIKE 'X/%'`` per scoped unit, never a walk of the tree.

Every model whose rows belong to a business unit gets its manager from
``scoped_manager(path)``, naming its own path to the unit; pages, the API,
exports, reports and services' look-ups then ask ``Model.objects.visible_to(user)``
(or ``.within(scope)`` when they hold a scope rather than a user) and never spell
the path out themselves.
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

    @classmethod
    def subtree(cls, unit) -> UnitScope:
        """The scope of one business unit and every unit beneath it (a report's root,
        a wave's unit, a filter's chosen unit)."""
        return cls(unrestricted=False, paths=(unit.path,))

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


class ScopedQuerySet(QuerySet):
    """A queryset that knows its model's path to a business unit.

    ``scope_path`` is the lookup from the model to ``BusinessUnit`` (``""`` for
    ``BusinessUnit`` itself). A model whose scope is not a single path (a
    consignment holds several units' devices) overrides ``within``.
    """

    scope_path: str = "business_unit"

    def within(self, scope: UnitScope | None) -> QuerySet:
        """The rows inside ``scope``; ``None`` means the whole estate (callers that
        compute organisation-wide figures, such as the monthly report run)."""
        if scope is None:
            return self
        return scope.filter(self, field=self.scope_path)

    def visible_to(self, user) -> QuerySet:
        """The rows ``user`` may see: their units and sub-units, or all for an unscoped
        role. Anonymous users and unscoped unit viewers see nothing."""
        return self.within(unit_scope(user))

    def scope_q(self, scope: UnitScope) -> Q:
        """The condition ``within`` applies, for use inside aggregates and ``Exists``."""
        return scope.q(self.scope_path)


def scoped_queryset(path: str, base: type[ScopedQuerySet] = ScopedQuerySet) -> type:
    """A ``ScopedQuerySet`` subclass whose rows reach their business unit through ``path``."""
    return type(f"{base.__name__}_{path or 'self'}", (base,), {"scope_path": path})


def scoped_manager(path: str, base: type[ScopedQuerySet] = ScopedQuerySet):
    """The default manager of a scoped model: ``objects = scoped_manager("device__business_unit")``."""
    return scoped_queryset(path, base).as_manager()


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
