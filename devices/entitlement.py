"""Entitlement: what each person's role allows per category, the approved, in-date
exceptions that widen it, and the check every deployment door applies (business
case: "each person's device entitlement follows their role; anything beyond it is an
exception with a reason and an approver"). Exceptions are requested by one person and
approved or refused by another."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count, Q, Sum
from django.utils import timezone

from core.errors import DomainError
from devices.models import (
    Category,
    Device,
    Entitlement,
    EntitlementException,
    Person,
)

HELD_STATUSES = (Device.Status.DEPLOYED, Device.Status.IN_REPAIR)


def _in_date_approved(on_date):
    """The exceptions that count in an entitlement check: approved and in date."""
    return Q(status=EntitlementException.Status.APPROVED) & (
        Q(valid_until__isnull=True) | Q(valid_until__gte=on_date)
    )


def entitlement_allowance(*, person, category: str, on_date=None) -> int:
    """How many devices of ``category`` a person may hold: role entitlement plus
    approved, in-date exceptions (a requested or refused one counts for nothing)."""
    on_date = on_date or timezone.localdate()
    base = (
        Entitlement.objects.filter(role_profile_id=person.role_profile_id, category=category)
        .values_list("quantity", flat=True)
        .first()
    ) or 0
    extra = (
        (
            EntitlementException.objects.filter(person=person, category=category)
            .filter(_in_date_approved(on_date))
            .aggregate(n=Sum("extra_quantity"))["n"]
        )
        or 0
    )
    return base + extra


_CHUNK = 5_000  # keeps IN lists under SQLite's variable limit


def _chunked(items):
    items = sorted(items)
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def entitlement_allowances(*, person_ids, on_date=None) -> dict[tuple[int, str], int]:
    """``entitlement_allowance`` for many people at once: ``{(person_id, category):
    allowed}`` for every category, in three queries per 5,000 people (the importer
    and the bulk API check a whole batch with it, never a query per row)."""
    on_date = on_date or timezone.localdate()
    roles: dict[int, int] = {}
    extra: dict[tuple[int, str], int] = {}
    for chunk in _chunked(set(person_ids)):
        roles.update(Person.objects.filter(pk__in=chunk).values_list("pk", "role_profile_id"))
        for pid, category, n in (
            EntitlementException.objects.filter(person_id__in=chunk)
            .filter(_in_date_approved(on_date))
            .values("person_id", "category")
            .annotate(n=Sum("extra_quantity"))
            .values_list("person_id", "category", "n")
        ):
            extra[(pid, category)] = n
    base = {
        (role, category): quantity
        for role, category, quantity in Entitlement.objects.filter(
            role_profile_id__in=set(roles.values())
        ).values_list("role_profile_id", "category", "quantity")
    }
    return {
        (pid, category): base.get((role, category), 0) + extra.get((pid, category), 0)
        for pid, role in roles.items()
        for category in Category.values
    }


def device_key(manufacturer_id, serial_number, asset_tag) -> tuple:
    """How the importer tells devices apart across its batches: (manufacturer id,
    serial), or ("tag", asset tag) for a device whose serial is not recorded."""
    if serial_number is None:
        return ("tag", asset_tag)
    return (manufacturer_id, serial_number)


def entitlement_holdings(*, person_ids) -> dict[tuple[int, str], set[tuple]]:
    """The devices each person holds now (deployed or in repair), by category:
    ``{(person_id, category): {device_key(...), ...}}`` (the importer's device
    key, so a batch can take out the rows it moves). One query per 5,000 people."""
    held: dict[tuple[int, str], set[tuple]] = {}
    for chunk in _chunked(set(person_ids)):
        for pid, category, mid, serial, tag in Device.objects.filter(
            assigned_to_id__in=chunk, status__in=HELD_STATUSES
        ).values_list(
            "assigned_to_id",
            "device_model__category",
            "manufacturer_id",
            "serial_number",
            "asset_tag",
        ):
            held.setdefault((pid, category), set()).add(device_key(mid, serial, tag))
    return held


def entitlement_exceeded_message(
    *, staff_number: str, category: str, held: int, allowed: int
) -> str:
    """The one wording of an entitlement refusal (service, import row, bulk item)."""
    return (
        f"{staff_number} would hold {held} {category}(s) and the role allows {allowed}; "
        "record an approved entitlement exception with a reason first."
    )


def entitlement_exceedances_record(*, reason: str, requested_by=None, now=None) -> int:
    """Every person holding more of a category than their entitlement allows (role
    plus approved, in-date exceptions) gets one exception for the excess, requested
    and awaiting review, unless one is already awaiting review: what a first
    migration of an existing estate records instead of refusing (the import's
    ``--record-exceptions`` does it per batch). Set-based: one grouping over the held
    devices, one insert. Returns the number recorded."""
    now = now or timezone.now()
    held = (
        Device.objects.filter(assigned_to__isnull=False, status__in=HELD_STATUSES)
        .values("assigned_to_id", "device_model__category")
        .annotate(n=Count("id"))
        .values_list("assigned_to_id", "device_model__category", "n")
    )
    counts = {(pid, category): n for pid, category, n in held}
    allowed = entitlement_allowances(person_ids={pid for pid, _ in counts}, on_date=now.date())
    awaiting = set(
        EntitlementException.objects.filter(
            status=EntitlementException.Status.REQUESTED
        ).values_list("person_id", "category")
    )
    over = sorted(
        (key, n - allowed.get(key, 0), n, allowed.get(key, 0))
        for key, n in counts.items()
        if n > allowed.get(key, 0) and key not in awaiting
    )
    EntitlementException.objects.bulk_create(
        EntitlementException(
            person_id=pid,
            category=category,
            extra_quantity=excess,
            reason=f"{reason}: holds {n} {category}(s), the role allows {limit}. "
            "Review before approving.",
            status=EntitlementException.Status.REQUESTED,
            requested_by=requested_by,
            requested_at=now,
        )
        for (pid, category), excess, n, limit in over
    )
    return len(over)


def entitlement_exception_request(
    *,
    person,
    category: str,
    reason: str,
    requested_by,
    extra_quantity: int = 1,
    valid_until=None,
    now=None,
) -> EntitlementException:
    """Ask for a person to hold more of a category than their role allows. It counts
    for nothing until someone else approves it (business case: "anything beyond
    [the entitlement] is an exception with a reason and an approver")."""
    with transaction.atomic():
        exception = EntitlementException(
            person=person,
            category=category,
            reason=(reason or "").strip(),
            extra_quantity=extra_quantity,
            valid_until=valid_until,
            status=EntitlementException.Status.REQUESTED,
            requested_by=requested_by,
            requested_at=now or timezone.now(),
        )
        exception.full_clean()
        exception.save()
    return exception


def _exception_decide(*, exception, actor, to_status: str) -> EntitlementException:
    with transaction.atomic():
        locked = EntitlementException.objects.select_for_update().get(pk=exception.pk)
        if locked.status != EntitlementException.Status.REQUESTED:
            raise DomainError(
                f"This exception is already {locked.get_status_display().lower()}.",
                field="status",
                code="conflict",
            )
        if to_status == EntitlementException.Status.APPROVED:
            if locked.requested_by_id is not None and locked.requested_by_id == actor.pk:
                raise DomainError(
                    "An entitlement exception is approved by someone other than who asked for it.",
                    field="approved_by",
                    code="same_person",
                )
            locked.approved_by = actor
            locked.approved_at = timezone.now()
        locked.status = to_status
        locked.full_clean()
        locked.save()
    exception.refresh_from_db()
    return locked


def entitlement_exception_approve(*, exception, approver) -> EntitlementException:
    """Approve a requested exception: it then counts in entitlement checks while in
    date. The requester may not approve their own request (code ``same_person``)."""
    return _exception_decide(
        exception=exception, actor=approver, to_status=EntitlementException.Status.APPROVED
    )


def entitlement_exception_refuse(*, exception, refuser) -> EntitlementException:
    """Refuse a requested exception; it never counts."""
    return _exception_decide(
        exception=exception, actor=refuser, to_status=EntitlementException.Status.REFUSED
    )


def entitlement_check(*, person, category: str, replacing: Device | None = None) -> None:
    """Refuse a deployment that would leave ``person`` above their entitlement.

    ``replacing`` is the device a refresh swap takes back, which does not count:
    the person holds both only for the length of the handover.
    """
    held = Device.objects.filter(
        assigned_to=person, status__in=HELD_STATUSES, device_model__category=category
    )
    if replacing is not None:
        held = held.exclude(pk=replacing.pk)
    count = held.count()
    allowance = entitlement_allowance(person=person, category=category)
    if count + 1 > allowance:
        raise DomainError(
            entitlement_exceeded_message(
                staff_number=person.staff_number,
                category=category,
                held=count + 1,
                allowed=allowance,
            ),
            field="assigned_to",
            code="entitlement_exceeded",
        )


def entitlement_summary(*, person, on_date=None) -> list[dict]:
    """What ``person`` holds against what they may hold, per category, for the pages:
    ``[{"category", "label", "held", "allowed", "over"}]`` for every category they
    hold or are entitled to (role entitlement plus approved, in-date exceptions).
    Four queries whatever the estate's size: the allowances (three) and one grouped
    count of the devices held."""
    allowed = entitlement_allowances(person_ids=[person.pk], on_date=on_date)
    held = dict(
        Device.objects.filter(assigned_to=person, status__in=HELD_STATUSES)
        .values("device_model__category")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("device_model__category", "n")
    )
    rows = []
    for category, label in Category.choices:
        may_hold = allowed.get((person.pk, category), 0)
        holds = held.get(category, 0)
        if may_hold or holds:
            rows.append(
                {
                    "category": category,
                    "label": label,
                    "held": holds,
                    "allowed": may_hold,
                    "over": holds > may_hold,
                }
            )
    return rows
