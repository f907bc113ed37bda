"""Writes for refresh planning: policies, eligibility, rates, baselines,
scenarios, waves and swaps."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from core.errors import DomainError
from core.financial_year import FinancialYear
from devices import services as device_services
from devices.models import Category, Device, DeviceEvent
from refresh import eligibility_sql
from refresh.models import (
    ATConfirmation,
    BaselineRow,
    BaselineSnapshot,
    BauRate,
    DeviceEligibility,
    EligibilityRun,
    OsEndOfSupport,
    RefreshPolicy,
    RefreshWave,
    Scenario,
    WaveItem,
)

CATEGORIES = [c.value for c in Category]
# Arbitrary constant naming the eligibility recomputation's advisory lock.
ELIGIBILITY_LOCK_KEY = 4_000_001


def _raise_validation(exc: ValidationError) -> None:
    field, messages = (
        next(iter(exc.message_dict.items()))
        if hasattr(exc, "error_dict")
        else (
            None,
            exc.messages,
        )
    )
    raise DomainError("; ".join(messages), field=None if field == "__all__" else field) from exc


# --- Policies ------------------------------------------------------------------


def refresh_policy_create(*, actor=None, **fields) -> RefreshPolicy:
    """Add a policy version for a category from ``effective_from``.

    Policies are never edited in place (business case: the plan is monitored
    through the period, decisions taken stay taken): a change is a new row, and
    eligibility rows and wave items keep the id of the policy they used.
    """
    policy = RefreshPolicy(created_by=actor, **fields)
    try:
        policy.full_clean()
    except ValidationError as exc:
        _raise_validation(exc)
    with transaction.atomic():
        policy.save()
    return policy


def os_end_of_support_save(*, os_prefix: str, end_of_support: dt.date) -> OsEndOfSupport:
    """Record when an operating system (matched by prefix) goes out of support."""
    os_prefix = os_prefix.strip()
    if "%" in os_prefix or "_" in os_prefix:
        raise DomainError("An OS prefix cannot contain % or _.", field="os_prefix")
    with transaction.atomic():
        entry = OsEndOfSupport.objects.select_for_update().filter(os_prefix=os_prefix).first()
        entry = entry or OsEndOfSupport(os_prefix=os_prefix)
        entry.end_of_support = end_of_support
        try:
            entry.full_clean()
        except ValidationError as exc:
            _raise_validation(exc)
        entry.save()
    return entry


def policies_in_force(*, on_date: dt.date) -> dict[str, RefreshPolicy]:
    """The policy in force for each category on a date (latest effective_from <= date)."""
    in_force: dict[str, RefreshPolicy] = {}
    for policy in RefreshPolicy.objects.filter(effective_from__lte=on_date).order_by(
        "category", "-effective_from"
    ):
        in_force.setdefault(policy.category, policy)
    return in_force


# --- Eligibility -----------------------------------------------------------------


def eligibility_recompute(
    *, trigger: str = EligibilityRun.Trigger.MANUAL, actor=None, today: dt.date | None = None
) -> EligibilityRun:
    """Recompute eligibility for the whole estate in one set-based statement.

    Business case: "older devices ... break more frequently": a device is due
    when it reaches its category's lifecycle, reaches the repair threshold, runs
    an OS past end of support (where the policy says that forces refresh) or is
    a model past end of support. Out of warranty adds to the priority and is
    shown as a reason but does not make a device due alone. A deployed device
    not seen for the policy's idle days is flagged for reclaim instead.
    Only devices in use or in stock are eligible.
    """
    now = timezone.now()
    today = today or timezone.localdate()
    vendor = connection.vendor
    policies = list(policies_in_force(on_date=today).values())
    with transaction.atomic():
        run = EligibilityRun.objects.create(
            trigger=trigger, requested_by=actor, started_at=now, as_of=today
        )
        ops = connection.ops
        params: dict[str, Any] = {
            "today": ops.adapt_datefield_value(today),
            "now": ops.adapt_datetimefield_value(now),
            "computed_at": ops.adapt_datetimefield_value(now),
        }
        with connection.cursor() as cursor:
            if vendor == "postgresql":
                # Two recomputations (nightly beat and a button press, say) would
                # upsert the same million rows in different orders and could
                # deadlock; this transaction-scoped lock makes the second wait.
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ELIGIBILITY_LOCK_KEY])
            if policies:
                for i, p in enumerate(policies):
                    params.update(
                        {
                            f"pc{i}": p.category,
                            f"pid{i}": p.pk,
                            f"pl{i}": p.lifecycle_months,
                            f"pr{i}": p.repair_threshold,
                            f"pi{i}": p.idle_days,
                            f"po{i}": 1 if p.os_end_of_support_forces_refresh else 0,
                        }
                    )
                cursor.execute(
                    eligibility_sql.eligibility_upsert_sql(
                        vendor=vendor, policy_count=len(policies)
                    ),
                    params,
                )
            cursor.execute(eligibility_sql.eligibility_stale_delete_sql())
        run.device_count = DeviceEligibility.objects.count()
        run.finished_at = timezone.now()
        run.save(update_fields=["device_count", "finished_at"])
    return run


def eligibility_recompute_request(*, actor=None, trigger=EligibilityRun.Trigger.MANUAL) -> None:
    """Queue a recomputation once the caller's transaction has committed, so the
    worker sees the data that asked for it (the button and the importer use this)."""
    from refresh.tasks import eligibility_recompute_task

    actor_id = getattr(actor, "pk", None)
    transaction.on_commit(
        lambda: eligibility_recompute_task.delay(trigger=str(trigger), actor_id=actor_id)
    )


# --- BAU rates -------------------------------------------------------------------


def bau_rate_save(*, category: str, actor=None, **fields) -> BauRate:
    """Set a category's BAU rates (finance owns them)."""
    with transaction.atomic():
        rate = BauRate.objects.select_for_update().filter(category=category).first()
        rate = rate or BauRate(category=category)
        for name, value in fields.items():
            setattr(rate, name, value)
        rate.updated_by = actor
        try:
            rate.full_clean()
        except ValidationError as exc:
            _raise_validation(exc)
        rate.save()
    return rate


# --- Baseline --------------------------------------------------------------------


def baseline_snapshot_create(
    *,
    name: str,
    as_of: dt.date,
    financial_years: list[FinancialYear],
    is_plan: bool = False,
    actor=None,
    note: str = "",
) -> BaselineSnapshot:
    """Freeze the estate and in-scope people at ``as_of`` and the forecast made
    from them (business case: volumes "based on volumes of devices and in scope
    users as of late 2024" are the maximum, monitored through the period).

    The rows come from grouped queries (a few per unit and category), never per
    device. Marking a snapshot as the plan unmarks the previous plan.
    """
    from refresh import selectors

    if not name.strip():
        raise DomainError("Give the baseline a name.", field="name")
    if not financial_years:
        raise DomainError("Choose at least one financial year.", field="financial_years")
    with transaction.atomic():
        if is_plan:
            BaselineSnapshot.objects.select_for_update().filter(is_plan=True).update(is_plan=False)
        snapshot = BaselineSnapshot(
            name=name.strip(), as_of=as_of, is_plan=is_plan, created_by=actor, note=note
        )
        snapshot.full_clean()
        snapshot.save()
        lines = selectors.forecast_lines(financial_years=financial_years, as_of=as_of)
        BaselineRow.objects.bulk_create(
            BaselineRow(
                snapshot=snapshot,
                business_unit_id=line["business_unit_id"],
                category=line["category"],
                financial_year=line["fy"].start_year,
                devices_in_use=line["devices_in_use"],
                people_in_scope=line["people_in_scope"],
                refresh_volume=line["refresh_volume"],
                bau_volume=line["bau_volume"],
            )
            for line in lines
        )
    return snapshot


# --- Scenarios -------------------------------------------------------------------

BAU_KEYS = ("new_starters_per_year", "breakage_rate_pct", "growth_pct")


def scenario_overrides_clean(raw: Any) -> dict:
    """Validate scenario overrides and return them normalised.

    Shape (every key optional)::

        {"lifecycle_months": {"laptop": 60},
         "defer_years": {"monitor": 1},
         "volume_caps": {"2025/26": {"laptop": 12000}},
         "unit_prices": {"laptop": "850.00"},
         "bau": {"laptop": {"new_starters_per_year": 1500, "breakage_rate_pct": "2.5",
                            "growth_pct": "0"}}}

    Errors name the key and the reason.
    """
    if raw in (None, ""):
        return {}
    if not isinstance(raw, dict):
        raise DomainError("Overrides must be an object.", field="overrides")
    unknown = set(raw) - {"lifecycle_months", "defer_years", "volume_caps", "unit_prices", "bau"}
    if unknown:
        raise DomainError(f"Unknown override: {', '.join(sorted(unknown))}.", field="overrides")
    clean: dict[str, Any] = {}

    def category_map(key, convert, check):
        value = raw.get(key) or {}
        if not isinstance(value, dict):
            raise DomainError(f"{key} must map categories to values.", field=key)
        out = {}
        for category, item in value.items():
            if category not in CATEGORIES:
                raise DomainError(f"{key}: {category!r} is not a category.", field=key)
            try:
                converted = convert(item)
            except (TypeError, ValueError, InvalidOperation):
                raise DomainError(
                    f"{key}.{category}: {item!r} is not a number.", field=key
                ) from None
            problem = check(converted)
            if problem:
                raise DomainError(f"{key}.{category}: {problem}.", field=key)
            out[category] = converted
        return out

    def as_int(v):
        if isinstance(v, bool) or (isinstance(v, float) and not v.is_integer()):
            raise ValueError
        return int(str(v).strip())

    if "lifecycle_months" in raw:
        clean["lifecycle_months"] = category_map(
            "lifecycle_months",
            as_int,
            lambda v: None if 1 <= v <= 240 else "must be 1 to 240 months",
        )
    if "defer_years" in raw:
        clean["defer_years"] = category_map(
            "defer_years", as_int, lambda v: None if 0 <= v <= 10 else "must be 0 to 10 years"
        )
    if "unit_prices" in raw:
        prices = category_map(
            "unit_prices",
            lambda v: Decimal(str(v)),
            lambda v: None if v >= 0 else "cannot be negative",
        )
        clean["unit_prices"] = {k: str(v.quantize(Decimal("0.01"))) for k, v in prices.items()}
    if "volume_caps" in raw:
        caps = raw["volume_caps"] or {}
        if not isinstance(caps, dict):
            raise DomainError(
                "volume_caps must map financial years to categories.", field="volume_caps"
            )
        clean_caps = {}
        for label, per_category in caps.items():
            try:
                fy = FinancialYear.parse(str(label))
            except ValueError as exc:
                raise DomainError(f"volume_caps: {exc}.", field="volume_caps") from None
            if not isinstance(per_category, dict):
                raise DomainError(
                    f"volume_caps.{label} must map categories to volumes.", field="volume_caps"
                )
            inner = {}
            for category, value in per_category.items():
                if category not in CATEGORIES:
                    raise DomainError(
                        f"volume_caps.{label}: {category!r} is not a category.", field="volume_caps"
                    )
                try:
                    n = as_int(value)
                except (TypeError, ValueError):
                    raise DomainError(
                        f"volume_caps.{label}.{category}: {value!r} is not a whole number.",
                        field="volume_caps",
                    ) from None
                if n < 0:
                    raise DomainError(
                        f"volume_caps.{label}.{category}: cannot be negative.", field="volume_caps"
                    )
                inner[category] = n
            clean_caps[fy.label] = inner
        clean["volume_caps"] = clean_caps
    if "bau" in raw:
        bau = raw["bau"] or {}
        if not isinstance(bau, dict):
            raise DomainError("bau must map categories to rates.", field="bau")
        clean_bau = {}
        for category, rates in bau.items():
            if category not in CATEGORIES:
                raise DomainError(f"bau: {category!r} is not a category.", field="bau")
            if not isinstance(rates, dict) or set(rates) - set(BAU_KEYS):
                raise DomainError(f"bau.{category}: use only {', '.join(BAU_KEYS)}.", field="bau")
            inner = {}
            for key, value in rates.items():
                try:
                    number = Decimal(str(value))
                except InvalidOperation:
                    raise DomainError(
                        f"bau.{category}.{key}: {value!r} is not a number.", field="bau"
                    ) from None
                if key != "growth_pct" and number < 0:
                    raise DomainError(f"bau.{category}.{key}: cannot be negative.", field="bau")
                inner[key] = int(number) if key == "new_starters_per_year" else str(number)
            clean_bau[category] = inner
        clean["bau"] = clean_bau
    return clean


def scenario_save(
    *, name: str, overrides: Any, actor, description: str = "", scenario: Scenario | None = None
) -> Scenario:
    """Create or update a named scenario; overrides are validated first so a bad
    one never replaces a good one."""
    clean = scenario_overrides_clean(overrides)
    with transaction.atomic():
        if scenario is not None:
            scenario = Scenario.objects.select_for_update().get(pk=scenario.pk)
        else:
            scenario = Scenario(created_by=actor)
        scenario.name = name.strip()
        scenario.description = description
        scenario.overrides = clean
        try:
            scenario.full_clean()
        except ValidationError as exc:
            _raise_validation(exc)
        scenario.save()
    return scenario


# --- Waves and swaps ---------------------------------------------------------------

S = WaveItem.Status
SWAP_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PLANNED: frozenset({S.ALLOCATED, S.CANCELLED}),
    S.ALLOCATED: frozenset({S.HANDED_OVER, S.PLANNED, S.CANCELLED}),
    S.HANDED_OVER: frozenset({S.RETURNED}),
    S.RETURNED: frozenset({S.COMPLETED}),
    S.COMPLETED: frozenset(),
    S.CANCELLED: frozenset(),
}
del S

# Units whose code contains one of these hold central stock any unit may draw on
# (the demo estate's is EUS-STORES).
CENTRAL_STORE_MARKERS = ("STORE", "CENTRAL")


def is_central_store(unit) -> bool:
    return any(marker in unit.code.upper() for marker in CENTRAL_STORE_MARKERS)


def wave_create(
    *,
    name: str,
    volume: int,
    actor,
    business_unit=None,
    category: str = "",
    min_priority: int = 0,
    scope=None,
) -> RefreshWave:
    """Select up to ``volume`` due, deployed devices by priority into a new wave.

    One ordered SELECT over the eligibility table and one bulk INSERT; devices
    already in a live swap are skipped. Each item keeps the policy its
    eligibility was computed with, so a later policy change does not rewrite it.
    """
    if not name.strip():
        raise DomainError("Give the wave a name.", field="name")
    if volume is None or volume < 1:
        raise DomainError("Volume must be at least 1.", field="volume")
    if category and category not in CATEGORIES:
        raise DomainError(f"{category!r} is not a category.", field="category")
    with transaction.atomic():
        wave = RefreshWave(
            name=name.strip(),
            volume=volume,
            business_unit=business_unit,
            category=category,
            min_priority=min_priority,
            created_by=actor,
        )
        wave.full_clean()
        wave.save()
        candidates = DeviceEligibility.objects.filter(
            is_due=True,
            priority__gte=min_priority,
            device__status=Device.Status.DEPLOYED,
            device__assigned_to__isnull=False,
        ).exclude(
            device_id__in=WaveItem.objects.exclude(
                status__in=[WaveItem.Status.COMPLETED, WaveItem.Status.CANCELLED]
            ).values("old_device_id")
        )
        if scope is not None:
            candidates = scope.filter(candidates)
        if business_unit is not None:
            candidates = candidates.filter(business_unit__path__startswith=business_unit.path)
        if category:
            candidates = candidates.filter(category=category)
        rows = candidates.order_by("-priority", "device_id").values_list(
            "device_id",
            "device__assigned_to_id",
            "business_unit_id",
            "category",
            "policy_id",
            "priority",
        )[:volume]
        items = WaveItem.objects.bulk_create(
            WaveItem(
                wave=wave,
                old_device_id=device_id,
                person_id=person_id,
                business_unit_id=unit_id,
                category=cat,
                policy_id=policy_id,
                priority=priority,
            )
            for device_id, person_id, unit_id, cat, policy_id, priority in rows
        )
        if not items:
            raise DomainError(
                "No due, deployed device matches these filters; nothing to put in a wave.",
                field="volume",
            )
    return wave


def _lock_item(item: WaveItem) -> WaveItem:
    # Lock only the swap row (of=self): the joined new device may be NULL, and
    # PostgreSQL cannot lock the nullable side of an outer join.
    return (
        WaveItem.objects.select_for_update(of=("self",))
        .select_related("person", "old_device", "new_device", "wave")
        .get(pk=item.pk)
    )


def _move(locked: WaveItem, to_status: str) -> None:
    if to_status not in SWAP_TRANSITIONS[locked.status]:
        raise DomainError(
            f"A swap that is {locked.get_status_display().lower()} cannot become "
            f"{WaveItem.Status(to_status).label.lower()}.",
            field="status",
            code="transition_not_allowed",
        )
    locked.status = to_status
    locked.save(update_fields=["status", "new_device", "updated_at"])


def swap_allocate(*, item: WaveItem, new_device: Device, actor=None) -> WaveItem:
    """Allocate a new device from stock: same category, in stock, held by the
    person's unit or a central store, and not allocated to another swap."""
    with transaction.atomic():
        locked = _lock_item(item)
        # Lock the stock device so two swaps cannot take the same one.
        device = (
            Device.objects.select_for_update()
            .select_related("device_model", "business_unit")
            .get(pk=new_device.pk)
        )
        if device.status != Device.Status.IN_STOCK:
            raise DomainError(f"{device} is not in stock.", field="new_device")
        if device.device_model.category != locked.category:
            raise DomainError(
                f"{device} is a {device.device_model.category}, the swap needs a {locked.category}.",
                field="new_device",
            )
        unit_ok = device.business_unit_id == locked.person.business_unit_id or is_central_store(
            device.business_unit
        )
        if not unit_ok:
            raise DomainError(
                f"{device} is held by {device.business_unit.code}, neither the person's unit "
                "nor a central store.",
                field="new_device",
            )
        if (
            WaveItem.objects.filter(new_device=device)
            .exclude(status=WaveItem.Status.CANCELLED)
            .exists()
        ):
            raise DomainError(f"{device} is already allocated to another swap.", field="new_device")
        locked.new_device = device
        _move(locked, WaveItem.Status.ALLOCATED)
    return locked


def swap_hand_over(*, item: WaveItem, actor=None) -> WaveItem:
    """Deploy the new device to the person. Entitlement is enforced by
    ``devices.services.device_deploy`` with the old device as the one being
    replaced (business case: "a strict policy for deployment"); a person already
    above their entitlement is refused unless an exception is recorded."""
    with transaction.atomic():
        locked = _lock_item(item)
        if locked.status != WaveItem.Status.ALLOCATED:
            _move(locked, WaveItem.Status.HANDED_OVER)  # raises with the reason
        device_services.device_deploy(
            device=locked.new_device,
            person=locked.person,
            actor=actor,
            source=f"wave:{locked.wave_id}",
            replacing=locked.old_device,
            details={"refresh_swap": locked.pk, "replacing": str(locked.old_device)},
        )
        _move(locked, WaveItem.Status.HANDED_OVER)
    return locked


def swap_record_return(*, item: WaveItem, actor=None) -> WaveItem:
    """The old device is back in the asset team's hands (status changes on completion)."""
    with transaction.atomic():
        locked = _lock_item(item)
        _move(locked, WaveItem.Status.RETURNED)
    return locked


def swap_confirm_at(*, item: WaveItem, actor, note: str) -> ATConfirmation:
    """Record that the person's AT and accessibility tools work on the new device."""
    if not note or not note.strip():
        raise DomainError("Say what was checked.", field="note")
    with transaction.atomic():
        locked = _lock_item(item)
        if locked.status not in (WaveItem.Status.HANDED_OVER, WaveItem.Status.RETURNED):
            raise DomainError(
                "AT can be confirmed only once the new device is handed over.", field="note"
            )
        if ATConfirmation.objects.filter(wave_item=locked).exists():
            raise DomainError("AT is already confirmed for this swap.", field="note")
        confirmation = ATConfirmation(
            wave_item=locked, confirmed_by=actor, confirmed_at=timezone.now(), note=note.strip()
        )
        confirmation.full_clean()
        confirmation.save()
    return confirmation


def swap_complete(*, item: WaveItem, actor=None) -> WaveItem:
    """Complete a swap: the old device moves to returned (ready for disposals)
    and both devices get a lifecycle event (source ``wave:<id>``).

    Business case: a swap for someone with assistive-technology needs is not
    complete until their AT is confirmed working on the new device.
    """
    with transaction.atomic():
        locked = _lock_item(item)
        if locked.status != WaveItem.Status.RETURNED:
            _move(locked, WaveItem.Status.COMPLETED)  # raises with the reason
        if locked.person.at_needs and not ATConfirmation.objects.filter(wave_item=locked).exists():
            raise DomainError(
                f"{locked.person} has assistive-technology needs: confirm their AT works on "
                "the new device before completing the swap.",
                field="at_confirmation",
                code="at_confirmation_required",
            )
        source = f"wave:{locked.wave_id}"
        device_services.device_transition(
            device=locked.old_device,
            to_status=Device.Status.RETURNED,
            actor=actor,
            kind=DeviceEvent.Kind.RETURNED,
            source=source,
            details={"refresh_swap": locked.pk, "replaced_by": str(locked.new_device)},
        )
        device_services.device_event_record(
            device=locked.new_device,
            kind=DeviceEvent.Kind.NOTE,
            actor=actor,
            source=source,
            details={
                "refresh_swap": locked.pk,
                "replaces": str(locked.old_device),
                "note": "refresh swap completed",
            },
        )
        _move(locked, WaveItem.Status.COMPLETED)
    return locked


def swap_cancel(*, item: WaveItem, actor=None) -> WaveItem:
    """Cancel a swap before handover; an allocated stock device is released."""
    with transaction.atomic():
        locked = _lock_item(item)
        _move(locked, WaveItem.Status.CANCELLED)
    return locked


SWAP_ACTIONS = {
    "hand_over": swap_hand_over,
    "return": swap_record_return,
    "complete": swap_complete,
    "cancel": swap_cancel,
}
