from django.conf import settings
from django.db import models


class UserScope(models.Model):
    """Limits a user to a business unit and its sub-units.

    A user with no scope rows sees the whole estate (except unit viewers, who see
    nothing until scoped); a user with rows sees only those units' subtrees.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="unit_scopes"
    )
    business_unit = models.ForeignKey(
        "devices.BusinessUnit", on_delete=models.PROTECT, related_name="user_scopes"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "business_unit"], name="%(app_label)s_%(class)s_unique_user_unit"
            )
        ]

    def __str__(self) -> str:
        return f"{self.user} → {self.business_unit}"
