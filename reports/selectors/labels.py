"""The stewardship report's vocabulary: which device statuses count as held or in
use, the categories, and the headline figures every run stores."""

from __future__ import annotations

from devices.models import Category, Device

S = Device.Status
# Devices a person is holding: deployed to them, or away for repair but still theirs.
IN_USE = (S.DEPLOYED, S.IN_REPAIR)
# Disposed devices have left the estate; every other status is still the unit's to account for.
HELD_STATUSES = [value for value, _ in S.choices if value != S.DISPOSED]
CATEGORIES = [value for value, _ in Category.choices]
CATEGORY_LABELS = dict(Category.choices)
STATUS_LABELS = dict(S.choices)

# The headline figures stored on every run and compared with the previous run.
HEADLINE_LABELS = {
    "devices_held": "Devices held",
    "in_use": "In use (deployed or in repair)",
    "in_stock": "Unassigned stock",
    "idle": "Idle devices to reclaim",
    "never_seen": "In use, never reported in",
    "people_over_entitlement": "People over entitlement",
    "devices_over_entitlement": "Devices beyond entitlement",
    "leavers_holding": "Leavers still holding devices",
    "leaver_devices": "Devices held by leavers",
    "lost_in_period": "Lost or stolen in the period",
    "refresh_due_this_year": "Due for refresh this financial year",
    "refresh_due_next_year": "Due for refresh next financial year",
    "exceptions_awaiting_review": "Entitlement exceptions awaiting review",
}
