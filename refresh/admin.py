from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

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


@admin.register(RefreshPolicy)
class RefreshPolicyAdmin(SimpleHistoryAdmin):
    list_display = (
        "category",
        "effective_from",
        "lifecycle_months",
        "repair_threshold",
        "idle_days",
        "os_end_of_support_forces_refresh",
    )
    list_filter = ("category",)
    readonly_fields = ("created_by", "created_at")

    def get_readonly_fields(self, request, obj=None):
        # A policy already in use is history: change it by adding a new version.
        if obj is not None:
            return [f.name for f in obj._meta.fields]
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(OsEndOfSupport)
class OsEndOfSupportAdmin(SimpleHistoryAdmin):
    list_display = ("os_prefix", "end_of_support")


@admin.register(BauRate)
class BauRateAdmin(SimpleHistoryAdmin):
    list_display = ("category", "new_starters_per_year", "breakage_rate_pct", "growth_pct")


@admin.register(Scenario)
class ScenarioAdmin(SimpleHistoryAdmin):
    list_display = ("name", "created_by", "updated_at")
    readonly_fields = ("created_by", "created_at", "updated_at")


@admin.register(EligibilityRun)
class EligibilityRunAdmin(admin.ModelAdmin):
    list_display = ("started_at", "finished_at", "trigger", "device_count", "requested_by")
    readonly_fields = [f.name for f in EligibilityRun._meta.fields]


@admin.register(DeviceEligibility)
class DeviceEligibilityAdmin(admin.ModelAdmin):
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

    def has_change_permission(self, request, obj=None):
        return False  # derived data: recompute instead

    def has_add_permission(self, request):
        return False


class BaselineRowInline(admin.TabularInline):
    model = BaselineRow
    extra = 0
    raw_id_fields = ("business_unit",)
    can_delete = False


@admin.register(BaselineSnapshot)
class BaselineSnapshotAdmin(admin.ModelAdmin):
    list_display = ("name", "as_of", "is_plan", "created_by", "created_at")
    inlines = [BaselineRowInline]


@admin.register(BaselineRow)
class BaselineRowAdmin(admin.ModelAdmin):
    list_display = (
        "snapshot",
        "business_unit",
        "category",
        "financial_year",
        "refresh_volume",
        "bau_volume",
    )
    list_filter = ("snapshot", "category")
    raw_id_fields = ("business_unit",)


class WaveItemInline(admin.TabularInline):
    model = WaveItem
    extra = 0
    raw_id_fields = ("old_device", "new_device", "person", "business_unit")
    readonly_fields = ("status",)


@admin.register(RefreshWave)
class RefreshWaveAdmin(SimpleHistoryAdmin):
    list_display = ("name", "business_unit", "category", "volume", "created_by", "created_at")
    inlines = [WaveItemInline]


@admin.register(WaveItem)
class WaveItemAdmin(SimpleHistoryAdmin):
    list_display = ("wave", "old_device", "person", "new_device", "status")
    list_filter = ("status",)
    raw_id_fields = ("old_device", "new_device", "person", "business_unit")
    readonly_fields = ("status",)  # moves only through refresh.services


@admin.register(ATConfirmation)
class ATConfirmationAdmin(admin.ModelAdmin):
    list_display = ("wave_item", "confirmed_by", "confirmed_at")
    raw_id_fields = ("wave_item",)
