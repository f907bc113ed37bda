"""Records the integration API keeps for itself: idempotency keys and token labels."""

from django.conf import settings
from django.db import models


class IdempotencyRecord(models.Model):
    """The first response to a POST sent with an ``Idempotency-Key``.

    A retry with the same key (for the same user and token) replays this response
    instead of writing again; the same key with a different request is refused.
    The row is inserted in the request's own transaction, before its work, and
    commits with the work and the stored response (api/idempotency.py says why):
    the unique constraint is what stops two concurrent duplicates both executing,
    and a request that dies takes its uncommitted row with it. ``in_progress`` is
    only ever committed by the previous design; such rows are reclaimed when stale.
    """

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress"
        COMPLETED = "completed", "Completed"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="idempotency_records"
    )
    # The knox token's public prefix ('' for a browser session): keys are per token.
    token_key = models.CharField(max_length=32, blank=True)
    key = models.CharField(max_length=255)
    # sha256 of method, path and body: the same key with another request is a 409.
    request_hash = models.CharField(max_length=64)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "token_key", "key"],
                name="%(app_label)s_%(class)s_unique_key_per_token",
            )
        ]

    def __str__(self) -> str:
        return f"{self.user_id}/{self.token_key}/{self.key} {self.state}"


class ApiTokenLabel(models.Model):
    """What a knox token is for (``create_api_token --description``).

    knox's own model has no description; this sits beside it and goes when the
    token is revoked (deleted).
    """

    token = models.OneToOneField(
        "knox.AuthToken", on_delete=models.CASCADE, related_name="label", primary_key=True
    )
    description = models.CharField(max_length=200, blank=True)

    def __str__(self) -> str:
        return self.description
