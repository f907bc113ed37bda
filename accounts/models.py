"""Who may see what: the organisation's business units (the tree that scope is
written in) and each user's unit scope. Roles are Django groups (``accounts.roles``).

Business units live here rather than in the estate so that scope needs no import
of ``devices``: ``core`` <- ``accounts`` <- ``devices`` stays one-way.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from simple_history.models import HistoricalRecords

from accounts.scoping import scoped_manager


class BusinessUnit(models.Model):
    """A unit of the organisation in a tree: directorate > command > unit.

    ``path`` is the materialised path of codes (``MET/FLP/CE/``) kept by
    ``accounts.services.business_unit_save``; a unit's subtree is every unit whose
    path starts with its own, which is how scoping and roll-ups find sub-units.
    """

    class Level(models.TextChoices):
        DIRECTORATE = "directorate", "Directorate"
        COMMAND = "command", "Command"
        UNIT = "unit", "Unit"

    code = models.CharField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    level = models.CharField(max_length=16, choices=Level.choices, default=Level.UNIT)
    path = models.CharField(max_length=500, db_index=True, editable=False)
    cost_centre = models.CharField(max_length=32, blank=True)
    stewardship_email = models.EmailField("stewardship contact e-mail", blank=True)
    active = models.BooleanField(default=True)
    history = HistoricalRecords()

    objects = scoped_manager("")

    class Meta:
        ordering = ["path"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(code=""), name="%(app_label)s_%(class)s_code_not_blank"
            ),
            models.CheckConstraint(
                condition=~Q(parent=models.F("pk")), name="%(app_label)s_%(class)s_not_own_parent"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"

    @property
    def depth(self) -> int:
        return self.path.count("/") - 1


class UserScope(models.Model):
    """Limits a user to a business unit and its sub-units.

    A user with no scope rows sees the whole estate (except unit viewers, who see
    nothing until scoped); a user with rows sees only those units' subtrees.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="unit_scopes"
    )
    business_unit = models.ForeignKey(
        BusinessUnit, on_delete=models.PROTECT, related_name="user_scopes"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "business_unit"], name="%(app_label)s_%(class)s_unique_user_unit"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.business_unit}"
