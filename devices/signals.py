"""Signals the estate sends, so that apps above it react to its changes without
``devices`` importing them (``refresh`` subscribes in its ``AppConfig.ready``)."""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

# Sent once the transaction that changed many devices at once has committed (an
# import or a bulk upsert that created or updated devices). Keyword arguments:
# ``trigger`` (the door: "import", "api", ...), ``actor_id`` (the user, or None) and
# ``device_ids``: the ids of the devices created or updated, sorted, so a receiver can
# redo its work for those alone; None means "the whole estate" (the sender changed
# more than DEVICE_IDS_LIMIT devices, or could not say which). Receivers take
# ``**kwargs`` and treat a missing ``device_ids`` as None.
estate_changed = Signal()

# Past this many changed devices the signal says "the whole estate" instead of
# listing them: a list that long costs more to carry (and to query by) than a
# whole-estate recompute saves.
DEVICE_IDS_LIMIT = 20_000


class ChangedDevices:
    """Collects the ids of the devices an import changed, batch by batch, up to
    DEVICE_IDS_LIMIT; past it, ``ids`` is None ("the whole estate") and nothing more
    is kept, so memory stays bounded whatever the import's size."""

    def __init__(self, limit: int | None = None):
        self.limit = DEVICE_IDS_LIMIT if limit is None else limit
        self._ids: set[int] | None = set()

    def add(self, ids) -> None:
        if self._ids is None:
            return
        self._ids.update(i for i in ids if i is not None)
        if len(self._ids) > self.limit:
            self._ids = None

    @property
    def ids(self) -> list[int] | None:
        return None if self._ids is None else sorted(self._ids)


def estate_changed_announce(*, trigger: str, actor, device_ids=None) -> None:
    """Send ``estate_changed`` after the current transaction commits (at once if none
    is open), so receivers never read devices that are not yet visible.
    ``device_ids``: the devices changed (a list longer than DEVICE_IDS_LIMIT is sent
    as None, the whole estate)."""
    actor_id = getattr(actor, "pk", None)
    if device_ids is not None:
        device_ids = sorted(set(device_ids))
        if len(device_ids) > DEVICE_IDS_LIMIT:
            device_ids = None
    transaction.on_commit(
        lambda: estate_changed.send(
            sender="devices", trigger=trigger, actor_id=actor_id, device_ids=device_ids
        )
    )
