"""Reads of the estate, always through a user's business-unit scope."""

from __future__ import annotations

from django.db.models import Count, QuerySet

from accounts.scoping import unit_scope
from devices.models import BusinessUnit, Category, Device, DeviceEvent, Person


def device_list(*, user) -> QuerySet[Device]:
    return unit_scope(user).filter(
        Device.objects.select_related(
            "device_model", "manufacturer", "business_unit", "assigned_to"
        )
    )


def business_unit_list(*, user) -> QuerySet[BusinessUnit]:
    return unit_scope(user).filter(BusinessUnit.objects.all(), field="")


def person_list(*, user) -> QuerySet[Person]:
    return unit_scope(user).filter(Person.objects.select_related("business_unit", "role_profile"))


def device_events(*, device: Device) -> QuerySet[DeviceEvent]:
    return device.events.select_related("recorded_by").order_by("occurred_at", "id")


def estate_counts(*, user) -> dict:
    """Device counts by category and status for the user's scope: one grouped query.

    Returns ``{"rows": [{"category", "label", "by_status": {status: n}, "total"}],
    "statuses": [(value, label)], "totals": {status: n}, "total": n}``.
    """
    grouped = (
        unit_scope(user)
        .filter(Device.objects.all())
        .values("device_model__category", "status")
        .annotate(n=Count("id"))
        .order_by()
    )
    statuses = list(Device.Status.choices)
    table = {value: {s: 0 for s, _ in statuses} for value, _ in Category.choices}
    for row in grouped:
        table[row["device_model__category"]][row["status"]] += row["n"]
    rows = [
        {
            "category": value,
            "label": label,
            "by_status": table[value],
            "total": sum(table[value].values()),
        }
        for value, label in Category.choices
    ]
    totals = {s: sum(r["by_status"][s] for r in rows) for s, _ in statuses}
    return {"rows": rows, "statuses": statuses, "totals": totals, "total": sum(totals.values())}
