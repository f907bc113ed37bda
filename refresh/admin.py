"""Refresh in the admin: a window onto the records, never a way round the services.

Every change to refresh data has a service that enforces its rule (swaps move only
through ``refresh.services``' status machine, policies are dated versions, rates,
OS dates and scenarios are validated, eligibility is derived). So the admin is
read-only here, except that a policy may be ADDED, and that goes through
``refresh.services.refresh_policy_create`` like the policy page (DESIGN "Rules at
every door": the admin is read-only wherever a service owns the change).
"""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from accounts.admin import NoHistoryRevertMixin, ScopedAdminMixin
from refresh import services
from refresh.models import (
    ATConfirmation,
    BaselineRow,
    BaselineSnapshot,
    BauRate,
    DeviceEligibility,
    EligibilityCount,
    EligibilityRun,
    FailureRateSnapshot,
    OsEndOfSupport,
    PersonCount,
    RefreshPolicy,
    RefreshWave,
    Scenario,
    ScenarioGroupCount,
    SwapStep,
    WaveItem,
)


class ReadOnlyAdminMixin:
    """View only: no add, change or delete (the services own every write)."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# The fields a policy version is added with (the policy page's form's fields).
POLICY_FIELDS = (
    "category",
    "effective_from",
    "lifecycle_months",
    "repair_threshold",
    "idle_days",
    "os_end_of_support_forces_refresh",
    "note",
)


@admin.register(RefreshPolicy)
class RefreshPolicyAdmin(NoHistoryRevertMixin, SimpleHistoryAdmin):
    """Add-only: a policy is a dated version; a change is a new version, never an
    edit (eligibility rows and swaps keep the policy they were computed with)."""

    list_display = (
        "category",
        "effective_from",
        "lifecycle_months",
        "repair_threshold",
        "idle_days",
        "os_end_of_support_forces_refresh",
    )
    list_filter = ("category",)
    fields = POLICY_FIELDS

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        # Only adds reach here (no change permission): through the service, as the page.
        created = services.refresh_policy_create(
            actor=request.user, **{name: getattr(obj, name) for name in POLICY_FIELDS}
        )
        obj.pk = created.pk
        obj.created_by = created.created_by
        obj.created_at = created.created_at


@admin.register(OsEndOfSupport)
class OsEndOfSupportAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    """Set on the policies page (``os_end_of_support_save``)."""

    list_display = ("os_prefix", "end_of_support")


@admin.register(BauRate)
class BauRateAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    """Set by finance on the BAU rates page (``bau_rate_save``)."""

    list_display = ("category", "new_starters_per_year", "breakage_rate_pct", "growth_pct")


@admin.register(Scenario)
class ScenarioAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    """Saved on the scenario pages (``scenario_save`` validates the overrides)."""

    list_display = ("name", "created_by", "updated_at")


@admin.register(EligibilityRun)
class EligibilityRunAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "started_at",
        "finished_at",
        "trigger",
        "device_count",
        "partial_device_count",
        "requested_by",
    )


@admin.register(DeviceEligibility)
class DeviceEligibilityAdmin(ScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Derived data: recompute instead."""

    list_display = (
        "device",
        "category",
        "is_due",
        "due_date",
        "priority",
        "reclaim",
        "computed_at",
    )
    list_filter = ("category", "is_due", "reclaim")
    raw_id_fields = ("device",)
    show_full_result_count = False


@admin.register(EligibilityCount)
class EligibilityCountAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """The forecast's counts of eligibility rows, kept by database triggers on the
    eligibility table (migration 0009): shown within the user's units, never edited."""

    list_display = (
        "business_unit",
        "category",
        "due_financial_year",
        "reclaim",
        "forced",
        "in_use",
        "devices",
    )
    list_filter = ("category", "reclaim", "forced", "in_use")
    list_select_related = ("business_unit",)
    search_fields = ("business_unit__code", "business_unit__name")
    show_full_result_count = False


@admin.register(FailureRateSnapshot)
class FailureRateSnapshotAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """The failure-rate page's figures per unit, category and age band, replaced by
    ``failure_rates_snapshot_refresh`` each night: shown within the user's units,
    never edited."""

    list_display = ("business_unit", "category", "band", "repairs", "devices", "computed_at")
    list_filter = ("category", "band")
    list_select_related = ("business_unit",)
    search_fields = ("business_unit__code", "business_unit__name")


@admin.register(PersonCount)
class PersonCountAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """People per unit, kept by database triggers on the people table (migration
    0009) for the forecast's headcount: shown within the user's units, never edited."""

    list_display = ("business_unit", "people")
    list_select_related = ("business_unit",)
    search_fields = ("business_unit__code", "business_unit__name")


@admin.register(ScenarioGroupCount)
class ScenarioGroupCountAdmin(ReadOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """The scenario comparison's counts of eligibility rows per purchase month, kept
    by database triggers on the eligibility table (migration 0011): shown within the
    user's units, never edited."""

    list_display = (
        "business_unit",
        "category",
        "policy",
        "purchase_month",
        "forced",
        "reclaim",
        "in_use",
        "devices",
    )
    list_filter = ("category", "forced", "reclaim", "in_use")
    list_select_related = ("business_unit", "policy")
    search_fields = ("business_unit__code", "business_unit__name")
    show_full_result_count = False


class BaselineRowInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = BaselineRow
    extra = 0


@admin.register(BaselineSnapshot)
class BaselineSnapshotAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Saved from the forecast page (``baseline_snapshot_create``)."""

    list_display = ("name", "as_of", "is_plan", "created_by", "created_at")
    inlines = [BaselineRowInline]


@admin.register(BaselineRow)
class BaselineRowAdmin(ScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = (
        "snapshot",
        "business_unit",
        "category",
        "financial_year",
        "refresh_volume",
        "bau_volume",
    )
    list_filter = ("snapshot", "category")


class WaveItemInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = WaveItem
    extra = 0
    fields = ("old_device", "person", "new_device", "status", "priority")


@admin.register(RefreshWave)
class RefreshWaveAdmin(ScopedAdminMixin, ReadOnlyAdminMixin, SimpleHistoryAdmin):
    """Created on the waves page (``wave_create`` selects its swaps)."""

    list_display = ("name", "business_unit", "category", "volume", "created_by", "created_at")
    inlines = [WaveItemInline]


@admin.register(WaveItem)
class WaveItemAdmin(ScopedAdminMixin, NoHistoryRevertMixin, ReadOnlyAdminMixin, SimpleHistoryAdmin):
    """A swap's devices, person and status move only through ``refresh.services``
    (the swap page): allocation checks stock and scope, handover checks entitlement,
    completion checks the AT check and moves both devices."""

    list_display = ("wave", "old_device", "person", "new_device", "status")
    list_filter = ("status",)


@admin.register(SwapStep)
class SwapStepAdmin(ScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Recorded by the swap services with each step, never edited (append-only)."""

    list_display = ("item", "step", "occurred_on", "old_device_condition", "recorded_by")
    list_filter = ("step", "old_device_condition")
    raw_id_fields = ("item", "new_device")
    show_full_result_count = False


@admin.register(ATConfirmation)
class ATConfirmationAdmin(ScopedAdminMixin, ReadOnlyAdminMixin, admin.ModelAdmin):
    """Retired: confirmations recorded before the devices AT check, kept as history
    (each was copied to ``devices.ATCheck`` by migration)."""

    list_display = ("wave_item", "confirmed_by", "confirmed_at")
