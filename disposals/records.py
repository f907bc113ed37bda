"""Disposal records are evidence: they are kept, never deleted.

``delete()`` on a record or a queryset of records raises ``RecordsAreKept``; how long
records are kept is a policy (``settings.DISPOSALS_RETENTION_YEARS``) for an audited
archive process outside this app, never a cascade. Every disposal model builds on
``KeptModel`` and its managers on ``KeptQuerySet`` / ``KeptScopedQuerySet``.
"""

from __future__ import annotations

from django.db import models

from accounts.scoping import ScopedQuerySet
from core.errors import DomainError


class RecordsAreKept(DomainError):
    def __init__(self, what: str = "Disposal records"):
        super().__init__(
            f"{what} are never deleted: retention is a policy, not a cascade.",
            code="never_deleted",
        )


class KeptQuerySet(models.QuerySet):
    """A queryset whose ``delete()`` is refused: disposal records are evidence."""

    def delete(self):
        raise RecordsAreKept(self.model._meta.verbose_name_plural.capitalize())

    delete.queryset_only = True


class KeptScopedQuerySet(KeptQuerySet, ScopedQuerySet):
    """A kept record that belongs to a business unit through its device."""


class KeptModel(models.Model):
    """Base for every disposal record: ``delete()`` is refused, on rows and querysets."""

    objects = KeptQuerySet.as_manager()

    class Meta:
        abstract = True

    def delete(self, *args, **kwargs):
        raise RecordsAreKept(self._meta.verbose_name_plural.capitalize())
