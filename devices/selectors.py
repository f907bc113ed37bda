"""Reads of the estate through a user's business-unit scope (``Model.objects.visible_to``);
the device-model catalogue is shared by every unit."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet, Sum

from accounts.models import BusinessUnit
from accounts.redaction import redact_commercial_changes
from accounts.scoping import UnitScope, unit_scope
from devices.models import (
    ATCheck,
    Category,
    Device,
    DeviceEvent,
    DeviceModel,
    EntitlementException,
    EstateCount,
    Manufacturer,
    Person,
)


def device_list(*, user) -> QuerySet[Device]:
    return Device.objects.visible_to(user).select_related(
        "device_model", "manufacturer", "business_unit", "assigned_to"
    )


def business_unit_list(*, user) -> QuerySet[BusinessUnit]:
    return BusinessUnit.objects.visible_to(user)


def person_list(*, user) -> QuerySet[Person]:
    return Person.objects.visible_to(user).select_related("business_unit", "role_profile")


def device_events(*, device: Device) -> QuerySet[DeviceEvent]:
    return device.events.select_related("recorded_by").order_by("occurred_at", "id")


def estate_counts(*, user) -> dict:
    """Device counts by category and status for the user's scope, read from the estate
    counts the database keeps (``EstateCount``): a sum over at most units x models x
    statuses rows, whatever the number of devices.

    Returns ``{"rows": [{"category", "label", "by_status": {status: n}, "total"}],
    "statuses": [(value, label)], "totals": {status: n}, "total": n}``.
    """
    grouped = (
        EstateCount.objects.visible_to(user)
        .filter(devices__gt=0)
        .values("device_model__category", "status")
        .annotate(n=Sum("devices"))
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


def scope_unit_names(*, user) -> list[str] | None:
    """The names of the units a user is scoped to, or None when they see every unit."""
    scope = unit_scope(user)
    if scope.unrestricted:
        return None
    if not scope.paths:
        return []
    return list(
        BusinessUnit.objects.filter(path__in=scope.paths)
        .order_by("path")
        .values_list("name", flat=True)
    )


def device_model_choices(*, user) -> QuerySet[DeviceModel]:
    """Device models for the list filter (the catalogue is small: tens of rows)."""
    return DeviceModel.objects.select_related("manufacturer").order_by("manufacturer__name", "name")


def _prefix_range(field: str, prefix: str) -> Q:
    """``field`` starts with ``prefix``, written so a plain b-tree index answers it.

    ``istartswith`` becomes ``UPPER(col) LIKE ...``, which no ordinary index can serve:
    a whole-table scan, about a second at a million devices. A range
    ``prefix <= col < prefix-with-last-character-bumped`` walks the unique/serial
    indexes in any collation; the LIKE alongside keeps the answer exact.
    """
    if ord(prefix[-1]) >= 0x10FFFF:  # nothing sorts after it: the LIKE alone
        return Q(**{f"{field}__startswith": prefix})
    upper = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return Q(**{f"{field}__gte": prefix, f"{field}__lt": upper, f"{field}__startswith": prefix})


def _identifier_prefix_q(q: str) -> Q:
    """Asset tag or serial number equal to, or starting with, ``q``.

    Identifiers are stored as printed on the label, nearly always in capitals, so
    the search tries what was typed and its upper-case form.
    """
    condition = Q()
    for value in dict.fromkeys((q, q.upper())):
        condition |= _prefix_range("asset_tag", value) | _prefix_range("serial_number", value)
    return condition


def _unit_ids(units: QuerySet[BusinessUnit]) -> list[int]:
    return list(units.order_by().values_list("id", flat=True))


def device_search(
    *,
    user,
    q: str = "",
    business_unit: BusinessUnit | None = None,
    category: str = "",
    status: str = "",
    device_model: DeviceModel | None = None,
) -> QuerySet[Device]:
    """The user's devices narrowed by the list filters, ordered by id.

    ``q`` finds a device by asset tag or serial number: an exact value, or the
    start of one (as typed, or in capitals). A business unit includes its sub-units.

    A scope (the user's units, a chosen unit) is applied as the literal ids of its
    units, read first from the small unit table: PostgreSQL then estimates the
    units' share of the estate from the business_unit_id statistics and walks
    (business_unit, id) or a sort index accordingly, instead of guessing through a
    join on the unit paths (a scoped list sorted by status: 190 ms -> 0.1 ms at
    1,000,000 devices).
    """
    scope = unit_scope(user)
    qs = device_list(user=user)
    if not scope.unrestricted:
        qs = qs.filter(business_unit_id__in=_unit_ids(business_unit_list(user=user)))
    q = (q or "").strip()
    if q:
        qs = qs.filter(_identifier_prefix_q(q))
    if business_unit is not None:
        subtree = BusinessUnit.objects.within(UnitScope.subtree(business_unit))
        qs = qs.filter(business_unit_id__in=_unit_ids(subtree))
    if category:
        qs = qs.filter(device_model__category=category)
    if status:
        qs = qs.filter(status=status)
    if device_model is not None:
        qs = qs.filter(device_model=device_model)
    return qs.order_by("id")


def device_get(*, user, pk: int) -> Device | None:
    """One device the user may see, with what its page shows; None if out of scope."""
    return device_list(user=user).filter(pk=pk).select_related("assigned_to__role_profile").first()


# Foreign keys shown by name rather than id in the change history.
_HISTORY_FK_MODELS = {
    "business_unit": BusinessUnit,
    "device_model": DeviceModel,
    "assigned_to": Person,
    "manufacturer": Manufacturer,
}
_HISTORY_KINDS = {"+": "Created", "~": "Changed", "-": "Deleted"}
# The first record of a device whose creation was never recorded (the seeded or
# bulk-loaded estate writes no history rows): its values are where the history
# begins, not changes from empty.
FIRST_RECORDED = "First recorded"


def device_change_history(*, user, device: Device) -> list[dict]:
    """Field-level changes to a device (django-simple-history), newest first.

    Each entry: ``{"when", "who", "kind", "changes": [{"field", "label", "old", "new"}],
    "redacted"}``. Diffs are computed in memory between consecutive records; foreign
    keys are named with one query per referenced model, never one per change. A
    first record (``Created``, or ``First recorded`` when the device predates its
    history) lists the values it starts with and no old values. Commercial fields
    are removed by ``accounts.redaction.redact_commercial_changes`` for users who
    may not see commercial figures (``redacted`` says an entry lost some).
    """
    records = list(
        device.history.select_related("history_user").order_by("history_date", "history_id")
    )
    fields = {
        f.attname: f
        for f in Device._meta.concrete_fields
        if f.attname not in {"id", "version", "updated_at", "created_at"}
    }
    entries = []
    wanted_ids: dict[str, set] = {name: set() for name in _HISTORY_FK_MODELS}
    previous = None
    for record in records:
        changes = []
        for attname, model_field in fields.items():
            new = getattr(record, attname, None)
            old = getattr(previous, attname, None) if previous is not None else None
            if previous is not None and old == new:
                continue
            if previous is None and new in (None, "", False):
                continue
            if model_field.name in wanted_ids:
                wanted_ids[model_field.name].update(v for v in (old, new) if v is not None)
            changes.append(
                {
                    "field": model_field.name,
                    "label": model_field.verbose_name,
                    "old": old,
                    "new": new,
                }
            )
        kind = _HISTORY_KINDS.get(record.history_type, record.history_type)
        if previous is None and record.history_type == "~":
            kind = FIRST_RECORDED
        visible = redact_commercial_changes(changes, user=user)
        entries.append(
            {
                "when": record.history_date,
                "who": record.history_user,
                "kind": kind,
                "changes": visible,
                "redacted": len(visible) != len(changes),
            }
        )
        previous = record
    names = {
        name: {
            obj.pk: (f"{obj.name} ({obj.code})" if model is BusinessUnit else str(obj))
            for obj in model.objects.filter(pk__in=ids).select_related(
                *(["manufacturer"] if model is DeviceModel else [])
            )
        }
        for name, model in _HISTORY_FK_MODELS.items()
        if (ids := wanted_ids[name])
    }
    choices = {"status": dict(Device.Status.choices)}
    for entry in entries:
        for change in entry["changes"]:
            lookup = names.get(change["field"]) or choices.get(change["field"])
            if lookup:
                change["old"] = lookup.get(change["old"], change["old"])
                change["new"] = lookup.get(change["new"], change["new"])
    entries.reverse()
    return entries


def at_checks_pending(user) -> QuerySet[ATCheck]:
    """Deployments to people with AT needs whose AT is not yet confirmed working,
    within the user's units (oldest first)."""
    return (
        ATCheck.objects.visible_to(user)
        .filter(confirmed_at__isnull=True)
        .select_related("device", "person", "deployed_by")
        .order_by("deployed_at", "id")
    )


def device_at_checks(*, device: Device) -> QuerySet[ATCheck]:
    """A device's AT checks, pending first (for the device page)."""
    return device.at_checks.select_related("person", "deployed_by", "confirmed_by").order_by(
        "-confirmed_at", "deployed_at", "id"
    )


def entitlement_exceptions_open_by_unit(*, scope: UnitScope | None = None) -> dict[int, int]:
    """Entitlement exceptions awaiting review (requested, neither approved nor
    refused), counted by the person's business unit: ``{unit_id: n}``, one grouped
    query. ``scope`` limits it (``None``: the whole estate). For the stewardship
    report's "open exceptions awaiting review" figure."""
    return dict(
        EntitlementException.objects.within(scope)
        .filter(status=EntitlementException.Status.REQUESTED)
        .values("person__business_unit_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("person__business_unit_id", "n")
    )


def entitlement_exceptions_awaiting_review(*, user) -> QuerySet[EntitlementException]:
    """Entitlement exceptions requested and neither approved nor refused, in the user's
    units, oldest first (the "For you" list counts those someone else requested)."""
    return (
        EntitlementException.objects.visible_to(user)
        .filter(status=EntitlementException.Status.REQUESTED)
        .order_by("requested_at", "id")
    )
