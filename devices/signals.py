"""Signals the estate sends, so that apps above it react to its changes without
``devices`` importing them (``refresh`` subscribes in its ``AppConfig.ready``)."""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

# Sent once the transaction that changed many devices at once has committed (an
# import or a bulk upsert that created or updated devices). Keyword arguments:
# ``trigger`` (the door: "import", "api", ...) and ``actor_id`` (the user, or None).
estate_changed = Signal()


def estate_changed_announce(*, trigger: str, actor) -> None:
    """Send ``estate_changed`` after the current transaction commits (at once if none
    is open), so receivers never read devices that are not yet visible."""
    actor_id = getattr(actor, "pk", None)
    transaction.on_commit(
        lambda: estate_changed.send(sender="devices", trigger=trigger, actor_id=actor_id)
    )
