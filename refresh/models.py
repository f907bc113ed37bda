"""Refresh planning: policies, eligibility, BAU rates, baselines, scenarios and waves.

Reads the estate (``devices``); nothing in ``devices`` knows about this app.
"""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q, Value
from django.db.models.functions import Coalesce
from simple_history.models import HistoricalRecords

from accounts.models import BusinessUnit
from accounts.scoping import scoped_manager
from devices.models import Category, Device, Person

# Sane ranges for the numbers people and integrations give refresh. Forms, API
# serializers, services and model validators share them, so an absurd number is a
# field error naming the field, never a database overflow (a 500).
MAX_PRIORITY = 100_000  # a priority is about the age in months plus 12 per repair
MAX_WAVE_VOLUME = 5_000
MAX_NEW_STARTERS = 100_000  # the whole force is about 45,000 people
MAX_VOLUME_CAP = 1_000_000
MAX_UNIT_PRICE = Decimal("1000000.00")
MAX_REPAIR_THRESHOLD = 100
MAX_IDLE_DAYS = 3_650
MAX_LIFECYCLE_MONTHS = 240
# Ids in URLs and forms: BigAutoField's range (larger overflows the database driver).
MAX_ID = 2**63 - 1
# What an engineer writes about a swap step.
MAX_SWAP_NOTES = 1_000
MAX_SWAP_REASON = 500


class RefreshPolicy(models.Model):
    """How long a device of a category lasts, and what else makes it due.

    Versioned by ``effective_from``: the policy in force on a date is the one
    with the latest ``effective_from`` on or before it. A new policy is a new
    row, never an edit of the old one, so eligibility rows and wave items keep
    the policy they were computed with (business case: volumes are "monitored
    throughout the period", decisions already taken stay as they were).
    """

    category = models.CharField(max_length=16, choices=Category.choices)
    effective_from = models.DateField()
    lifecycle_months = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_LIFECYCLE_MONTHS)]
    )
    repair_threshold = models.PositiveSmallIntegerField(
        "repairs that make a device due",
        default=3,
        validators=[MaxValueValidator(MAX_REPAIR_THRESHOLD)],
        help_text="0 means repair history never makes a device due on its own.",
    )
    idle_days = models.PositiveSmallIntegerField(
        "idle after (days unseen)",
        default=90,
        validators=[MaxValueValidator(MAX_IDLE_DAYS)],
        help_text="A deployed device not seen for this many days is reclaimed, not refreshed.",
    )
    os_end_of_support_forces_refresh = models.BooleanField(default=True)
    note = models.CharField(max_length=300, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["category", "-effective_from"]
        verbose_name_plural = "refresh policies"
        constraints = [
            models.UniqueConstraint(
                fields=["category", "effective_from"],
                name="%(app_label)s_%(class)s_unique_category_effective_from",
            ),
            models.CheckConstraint(
                condition=Q(lifecycle_months__gte=1),
                name="%(app_label)s_%(class)s_lifecycle_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_category_display()} {self.lifecycle_months} months from {self.effective_from}"


class OsEndOfSupport(models.Model):
    """An operating system's end of support: a device whose ``os_version`` starts
    with ``os_prefix`` (case-insensitive) is out of support from ``end_of_support``."""

    os_prefix = models.CharField(max_length=100, unique=True)
    end_of_support = models.DateField()
    history = HistoricalRecords()

    class Meta:
        ordering = ["os_prefix"]
        verbose_name = "OS end of support"
        verbose_name_plural = "OS end of support dates"
        constraints = [
            models.CheckConstraint(
                condition=~Q(os_prefix=""), name="%(app_label)s_%(class)s_prefix_not_blank"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.os_prefix} → {self.end_of_support}"


class EligibilityRun(models.Model):
    """One recomputation of eligibility: of the whole estate (nightly, on demand), or
    of the devices an import or bulk upsert changed (``partial_device_count`` set).
    ``device_count`` is the number of eligibility rows of the devices it covered."""

    class Trigger(models.TextChoices):
        NIGHTLY = "nightly", "Nightly schedule"
        MANUAL = "manual", "On demand"
        IMPORT = "import", "After an import"
        API = "api", "After a bulk API upsert"
        SEED = "seed", "Demo data"

    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    device_count = models.PositiveIntegerField(default=0)
    partial_device_count = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="How many devices a partial run was asked to recompute (the devices an "
        "import or bulk upsert changed); empty for a run over the whole estate.",
    )
    as_of = models.DateField()

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.get_trigger_display()} {self.started_at:%Y-%m-%d %H:%M}"

    @property
    def whole_estate(self) -> bool:
        return self.partial_device_count is None


class DeviceEligibility(models.Model):
    """Derived: whether one device is due for refresh and why.

    Rewritten set-based for the whole estate by
    ``refresh.services.eligibility_recompute`` (never edited by hand), so it is
    deleted with its device. ``business_unit`` and ``category`` are copied from
    the device so scoped, filtered and grouped reads need no join.
    """

    device = models.OneToOneField(
        Device, on_delete=models.CASCADE, primary_key=True, related_name="eligibility"
    )
    business_unit = models.ForeignKey(
        BusinessUnit, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    category = models.CharField(max_length=16, choices=Category.choices)
    policy = models.ForeignKey(RefreshPolicy, on_delete=models.PROTECT, related_name="+")
    purchase_date = models.DateField(null=True, blank=True)
    due_date = models.DateField(null=True, blank=True)
    due_financial_year = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Start year of the financial year of due_date (2025 = 2025/26).",
    )
    is_due = models.BooleanField()
    reason_age = models.BooleanField()
    reason_repairs = models.BooleanField()
    reason_os_end_of_support = models.BooleanField()
    reason_model_end_of_support = models.BooleanField()
    reason_out_of_warranty = models.BooleanField()
    reclaim = models.BooleanField(help_text="Idle: reclaim to stock instead of refreshing.")
    forced = models.BooleanField(
        default=False,
        help_text="Due for a reason other than age (repairs, model or OS end of support), "
        "which no lifecycle change undoes.",
    )
    in_use = models.BooleanField(
        default=False, help_text="Deployed or in repair (BAU rates apply to devices in use)."
    )
    repair_count = models.PositiveIntegerField()
    priority = models.IntegerField(help_text="Higher first: older and more repaired devices.")
    computed_at = models.DateTimeField()

    objects = scoped_manager("business_unit")

    class Meta:
        ordering = ["-priority", "device_id"]
        verbose_name_plural = "device eligibility"
        indexes = [
            models.Index(
                fields=["is_due", "-priority", "device"], name="refresh_elig_due_priority"
            ),
            models.Index(fields=["business_unit", "category"], name="refresh_elig_unit_category"),
        ]

    REASON_FIELDS = {
        "reason_age": "Age",
        "reason_repairs": "Repairs",
        "reason_os_end_of_support": "OS end of support",
        "reason_model_end_of_support": "Model end of support",
        "reason_out_of_warranty": "Out of warranty",
    }

    def __str__(self) -> str:
        return f"{self.device_id}: {'due' if self.is_due else 'not due'}"

    @property
    def reasons(self) -> list[str]:
        return [label for field, label in self.REASON_FIELDS.items() if getattr(self, field)]


class EligibilityCount(models.Model):
    """How many eligibility rows share one forecast key: business unit, category, due
    financial year (null without a purchase date), reclaim, forced and in use.

    Kept by the database, not by the services, as ``devices.EstateCount`` is: triggers
    on ``refresh_deviceeligibility`` (migration 0009; PostgreSQL statement triggers
    with transition tables, SQLite row triggers) add and subtract on every INSERT,
    DELETE and change of a key column, so the full and the partial recompute, the
    cascade when a device is deleted and raw SQL all keep it exact. Nothing in the
    apps writes it. The forecast (``forecast_engine.unit_year_groups``) sums these
    rows instead of grouping the whole eligibility table per request; the clamp of
    overdue years to the current year stays in the selector, since "current" moves.
    """

    business_unit = models.ForeignKey(BusinessUnit, on_delete=models.CASCADE, related_name="+")
    category = models.CharField(max_length=16, choices=Category.choices)
    due_financial_year = models.PositiveSmallIntegerField(null=True, blank=True)
    reclaim = models.BooleanField()
    forced = models.BooleanField()
    in_use = models.BooleanField()
    devices = models.BigIntegerField(default=0)

    objects = scoped_manager("business_unit")

    class Meta:
        constraints = [
            # One row per key, a missing due year being one key too (NULLs are
            # distinct in a plain unique index, so the year is coalesced): the
            # triggers' upserts name this very expression as their conflict target.
            models.UniqueConstraint(
                "business_unit",
                "category",
                Coalesce("due_financial_year", -1),
                "reclaim",
                "forced",
                "in_use",
                name="%(app_label)s_%(class)s_unique_key",
            )
        ]

    def __str__(self) -> str:
        year = self.due_financial_year if self.due_financial_year is not None else "no due year"
        return f"{self.business_unit_id}/{self.category}/{year}: {self.devices}"


class PersonCount(models.Model):
    """How many people (staff records: leavers and future starters included) one
    business unit holds.

    Kept by the database like ``EligibilityCount``: triggers on ``devices_person``
    (migration 0009) add and subtract on every INSERT, DELETE and change of unit,
    whatever the door. The forecast's headcount on a day
    (``forecast_engine.headcount``) is this count less the people outside that day
    (not started yet, or gone by it), who are few and found by the indexes on
    ``devices_person.start_date`` and ``leaver_date``, so the 562,500 people of the
    1,000,000-device demo are not counted per request. Refresh owns it because only
    the forecast reads it; ``devices`` knows nothing of it.
    """

    business_unit = models.OneToOneField(BusinessUnit, on_delete=models.CASCADE, related_name="+")
    people = models.BigIntegerField(default=0)

    objects = scoped_manager("business_unit")

    def __str__(self) -> str:
        return f"{self.business_unit_id}: {self.people}"


class FailureRateSnapshot(models.Model):
    """One business unit's repairs and devices for one category and age band, as the
    failure-rate page shows them, computed at ``computed_at``.

    The page's figures need every repair event joined to its device and every
    device's purchase date (475,611 repairs and 1,000,000 devices in the bench
    estate, 1.5 s a request), so ``refresh.services.failure_rates_snapshot_refresh``
    computes them set-based each night (with the eligibility recompute) and the
    selector sums the rows of the units in scope. ``band`` is the whole years of
    age (6 for six and over); ``devices`` counts the unit's devices of the category
    that had reached the band on the day computed (purchased at least ``band``
    years before), so the rows of several units add up. Every row of a refresh has
    the same ``computed_at``, the "as at" the page states.
    """

    business_unit = models.ForeignKey(BusinessUnit, on_delete=models.CASCADE, related_name="+")
    category = models.CharField(max_length=16, choices=Category.choices)
    band = models.PositiveSmallIntegerField(validators=[MaxValueValidator(6)])
    repairs = models.BigIntegerField(default=0)
    devices = models.BigIntegerField(default=0)
    computed_at = models.DateTimeField()

    objects = scoped_manager("business_unit")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["business_unit", "category", "band"],
                name="%(app_label)s_%(class)s_unique_key",
            ),
            models.CheckConstraint(
                condition=Q(band__lte=6), name="%(app_label)s_%(class)s_band_in_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.business_unit_id}/{self.category}/{self.band}: {self.repairs}/{self.devices}"


class ScenarioGroupCount(models.Model):
    """How many eligibility rows share one scenario key: business unit, category,
    policy, purchase month (the first day of the month; null without a purchase
    date), forced, reclaim and in use.

    Kept by the database like ``EligibilityCount``: triggers on
    ``refresh_deviceeligibility`` (migration 0011_scenario_group_counts) add and
    subtract on every INSERT, DELETE and change of a key column, whatever the door.
    Nothing in the apps writes it. The scenario comparison
    (``forecast_engine.groups_today``) reads these rows instead of grouping the whole
    eligibility table by purchase month per request; the due month is the purchase
    month plus the policy's lifecycle, placed by the selector, so a changed
    lifecycle needs no rewrite here.
    """

    business_unit = models.ForeignKey(BusinessUnit, on_delete=models.CASCADE, related_name="+")
    category = models.CharField(max_length=16, choices=Category.choices)
    policy = models.ForeignKey(RefreshPolicy, on_delete=models.CASCADE, related_name="+")
    purchase_month = models.DateField(null=True, blank=True)
    forced = models.BooleanField()
    reclaim = models.BooleanField()
    in_use = models.BooleanField()
    devices = models.BigIntegerField(default=0)

    objects = scoped_manager("business_unit")

    class Meta:
        constraints = [
            # One row per key, a missing purchase month being one key too (NULLs are
            # distinct in a plain unique index, so the month is coalesced to a day no
            # month starts on): the triggers' upserts name this very expression.
            models.UniqueConstraint(
                "business_unit",
                "category",
                "policy",
                Coalesce("purchase_month", Value(dt.date(1, 1, 2))),
                "forced",
                "reclaim",
                "in_use",
                name="%(app_label)s_%(class)s_unique_key",
            )
        ]

    def __str__(self) -> str:
        month = f"{self.purchase_month:%Y-%m}" if self.purchase_month else "no purchase month"
        return f"{self.business_unit_id}/{self.category}/{month}: {self.devices}"


class BauRate(models.Model):
    """Business-as-usual demand rates for a category, set by finance.

    BAU demand per year = new starters (shared across units by headcount)
    + (breakage % + growth %) of the devices in use. ``planning_unit_price``
    prices the forecast (commercial); without it the catalogue average is used.
    """

    category = models.CharField(max_length=16, choices=Category.choices, unique=True)
    new_starters_per_year = models.PositiveIntegerField(
        default=0, validators=[MaxValueValidator(MAX_NEW_STARTERS)]
    )
    breakage_rate_pct = models.DecimalField(
        "breakage replacements (% of devices in use a year)",
        max_digits=5,
        decimal_places=2,
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    growth_pct = models.DecimalField(
        "growth (% of devices in use a year)",
        max_digits=5,
        decimal_places=2,
        default=0,
        validators=[MinValueValidator(-100), MaxValueValidator(100)],
    )
    planning_unit_price = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_UNIT_PRICE)],
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["category"]
        constraints = [
            models.CheckConstraint(
                condition=Q(breakage_rate_pct__gte=0),
                name="%(app_label)s_%(class)s_breakage_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(planning_unit_price__isnull=True) | Q(planning_unit_price__gte=0),
                name="%(app_label)s_%(class)s_price_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"BAU {self.category}"


class BaselineSnapshot(models.Model):
    """The estate and in-scope people at a date, and the forecast made from them.

    The business case's volumes are "based on volumes of devices and in scope
    users as of late 2024" and are a maximum: the snapshot marked ``is_plan``
    is that plan, and today's forecast is reported against it.
    """

    name = models.CharField(max_length=200)
    as_of = models.DateField()
    is_plan = models.BooleanField("is the plan", default=False)
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-as_of", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_plan"],
                condition=Q(is_plan=True),
                name="%(app_label)s_%(class)s_one_plan",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.as_of})"


class BaselineRow(models.Model):
    """One (unit, category, financial year) line of a baseline: the estate then
    and the demand forecast from it."""

    snapshot = models.ForeignKey(BaselineSnapshot, on_delete=models.CASCADE, related_name="rows")
    business_unit = models.ForeignKey(BusinessUnit, on_delete=models.PROTECT, related_name="+")
    category = models.CharField(max_length=16, choices=Category.choices)
    financial_year = models.PositiveSmallIntegerField(help_text="Start year: 2025 is 2025/26.")
    devices_in_use = models.PositiveIntegerField(default=0)
    people_in_scope = models.PositiveIntegerField(default=0)
    refresh_volume = models.PositiveIntegerField(default=0)
    bau_volume = models.PositiveIntegerField(default=0)

    objects = scoped_manager("business_unit")

    class Meta:
        ordering = ["snapshot", "financial_year", "category", "business_unit"]
        constraints = [
            models.UniqueConstraint(
                fields=["snapshot", "business_unit", "category", "financial_year"],
                name="%(app_label)s_%(class)s_unique_line",
            )
        ]

    def __str__(self) -> str:
        return f"{self.snapshot_id} {self.business_unit_id} {self.category} {self.financial_year}"


class Scenario(models.Model):
    """A saved what-if: overrides of policy, rates and prices (validated JSON,
    see ``refresh.services.scenario_overrides_clean``), compared with the
    baseline forecast and the capital envelope."""

    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    overrides = models.JSONField(default=dict, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(name=""), name="%(app_label)s_%(class)s_name_not_blank"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class RefreshWave(models.Model):
    """A batch of refresh swaps, selected from eligible devices by priority.

    ``business_unit`` narrows the selection to that unit's subtree; a wave
    without one was selected from everything its creator could see.
    """

    name = models.CharField(max_length=200)
    business_unit = models.ForeignKey(
        BusinessUnit, null=True, blank=True, on_delete=models.PROTECT, related_name="refresh_waves"
    )
    category = models.CharField(max_length=16, choices=Category.choices, blank=True)
    min_priority = models.IntegerField(
        default=0, validators=[MinValueValidator(0), MaxValueValidator(MAX_PRIORITY)]
    )
    volume = models.PositiveIntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_WAVE_VOLUME)]
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    history = HistoricalRecords()

    # A wave without a unit lies inside no unit's subtree, so only unrestricted
    # users see it (its swaps, each with its own unit, are scoped as usual).
    objects = scoped_manager("business_unit")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(volume__gte=1), name="%(app_label)s_%(class)s_volume_positive"
            ),
            models.CheckConstraint(
                condition=Q(min_priority__gte=0, min_priority__lte=MAX_PRIORITY),
                name="%(app_label)s_%(class)s_min_priority_in_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class WaveItem(models.Model):
    """One swap in a wave: an old device, its holder, and the new device.

    Its status moves only through ``refresh.services.wave_item_transition``
    following ``SWAP_TRANSITIONS``.
    """

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        ALLOCATED = "allocated", "New device allocated"
        HANDED_OVER = "handed_over", "Handed over"
        RETURNED = "returned", "Old device returned"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    wave = models.ForeignKey(RefreshWave, on_delete=models.PROTECT, related_name="items")
    old_device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="+")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    business_unit = models.ForeignKey(BusinessUnit, on_delete=models.PROTECT, related_name="+")
    category = models.CharField(max_length=16, choices=Category.choices)
    policy = models.ForeignKey(
        RefreshPolicy,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The policy the selection was computed with.",
    )
    priority = models.IntegerField()
    new_device = models.ForeignKey(
        Device, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PLANNED)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    objects = scoped_manager("business_unit")

    class Meta:
        ordering = ["wave", "-priority", "id"]
        constraints = [
            # A device is in at most one live swap, as the old or the new device.
            models.UniqueConstraint(
                fields=["old_device"],
                condition=~Q(status__in=["completed", "cancelled"]),
                name="%(app_label)s_%(class)s_one_live_swap_per_old_device",
            ),
            models.UniqueConstraint(
                fields=["new_device"],
                condition=~Q(status="cancelled"),
                name="%(app_label)s_%(class)s_new_device_used_once",
            ),
        ]

    def __str__(self) -> str:
        return f"wave {self.wave_id}: {self.old_device_id} → {self.new_device_id or '?'}"


class SwapStep(models.Model):
    """One step of a swap as the engineer recorded it: the day it happened (which may
    be before the day it was typed in), the old device's condition, notes, and for a
    cancellation the reason.

    Written by the swap services in the same transaction as the status move it
    records, never edited: append-only (PostgreSQL refuses UPDATE and DELETE). The
    database also refuses a cancellation without a reason and a return without the
    old device's condition, whichever door writes the row.
    """

    class Step(models.TextChoices):
        ALLOCATED = "allocated", "New device allocated"
        HANDED_OVER = "handed_over", "Handed over"
        RETURNED = "returned", "Old device returned"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"

    class Condition(models.TextChoices):
        GOOD = "good", "Good: works, little wear"
        WORN = "worn", "Worn: works, heavy wear"
        DAMAGED = "damaged", "Damaged: works, with physical damage"
        FAULTY = "faulty", "Faulty: does not work"
        INCOMPLETE = "incomplete", "Incomplete: charger or parts missing"

    item = models.ForeignKey(WaveItem, on_delete=models.PROTECT, related_name="steps")
    step = models.CharField(max_length=16, choices=Step.choices)
    occurred_on = models.DateField("date")
    old_device_condition = models.CharField(max_length=16, choices=Condition.choices, blank=True)
    notes = models.CharField(max_length=MAX_SWAP_NOTES, blank=True)
    reason = models.CharField(max_length=MAX_SWAP_REASON, blank=True)
    new_device = models.ForeignKey(
        Device,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="The device allocated at this step (kept after a cancellation).",
    )
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField()

    objects = scoped_manager("item__business_unit")

    class Meta:
        ordering = ["item", "recorded_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    step__in=["allocated", "handed_over", "returned", "completed", "cancelled"]
                ),
                name="%(app_label)s_%(class)s_step_known",
            ),
            models.CheckConstraint(
                condition=Q(
                    old_device_condition__in=["", "good", "worn", "damaged", "faulty", "incomplete"]
                ),
                name="%(app_label)s_%(class)s_condition_known",
            ),
            models.CheckConstraint(
                condition=~Q(step="cancelled") | ~Q(reason=""),
                name="%(app_label)s_%(class)s_cancellation_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(step="returned") | ~Q(old_device_condition=""),
                name="%(app_label)s_%(class)s_return_has_condition",
            ),
        ]

    def __str__(self) -> str:
        return f"swap {self.item_id}: {self.get_step_display()} on {self.occurred_on}"


class ATConfirmation(models.Model):
    """Retired: a confirmation recorded before the devices AT check existed.

    Swaps now require the ``devices.ATCheck`` of their handover to be confirmed
    (``refresh.services.swap_confirm_at`` / ``swap_complete``), which devices opens
    at every deployment to a person with AT needs, from any door. Migration 0007
    copied every row here onto that check; the rows stay, read-only and
    append-only, as history. Nothing writes new ones."""

    wave_item = models.OneToOneField(
        WaveItem, on_delete=models.PROTECT, related_name="at_confirmation"
    )
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField()
    note = models.CharField(max_length=500)

    objects = scoped_manager("wave_item__business_unit")

    class Meta:
        ordering = ["-confirmed_at"]
        verbose_name = "AT confirmation"
        constraints = [
            models.CheckConstraint(
                condition=~Q(note=""), name="%(app_label)s_%(class)s_note_not_blank"
            ),
        ]

    def __str__(self) -> str:
        return f"AT confirmed for swap {self.wave_item_id}"
