from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from devices.models import (
    Device,
    DeviceEvent,
    DeviceModel,
    Entitlement,
    EntitlementException,
    ImportRun,
    Manufacturer,
    Person,
    RoleProfile,
)


class EntitlementInline(admin.TabularInline):
    model = Entitlement
    extra = 0


@admin.register(RoleProfile)
class RoleProfileAdmin(SimpleHistoryAdmin):
    list_display = ["code", "name"]
    search_fields = ["code", "name"]
    inlines = [EntitlementInline]


@admin.register(Entitlement)
class EntitlementAdmin(SimpleHistoryAdmin):
    list_display = ["role_profile", "category", "quantity"]
    list_filter = ["category"]


@admin.register(Person)
class PersonAdmin(SimpleHistoryAdmin):
    list_display = [
        "staff_number",
        "business_unit",
        "role_profile",
        "at_needs",
        "start_date",
        "leaver_date",
    ]
    list_filter = ["at_needs", "role_profile"]
    search_fields = ["staff_number"]
    raw_id_fields = ["business_unit"]
    list_select_related = ["business_unit", "role_profile"]


@admin.register(Manufacturer)
class ManufacturerAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(DeviceModel)
class DeviceModelAdmin(SimpleHistoryAdmin):
    list_display = ["manufacturer", "name", "category", "unit_price", "end_of_support"]
    list_filter = ["category", "manufacturer"]
    search_fields = ["name", "manufacturer__name"]
    list_select_related = ["manufacturer"]


class DeviceEventInline(admin.TabularInline):
    model = DeviceEvent
    extra = 0
    can_delete = False
    fields = ["occurred_at", "kind", "from_status", "to_status", "recorded_by", "source", "details"]
    readonly_fields = fields
    ordering = ["occurred_at", "id"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Device)
class DeviceAdmin(SimpleHistoryAdmin):
    list_display = [
        "asset_tag",
        "serial_number",
        "device_model",
        "status",
        "business_unit",
        "assigned_to",
    ]
    list_filter = ["status", "device_model__category"]
    search_fields = ["asset_tag", "serial_number"]
    raw_id_fields = ["business_unit", "assigned_to", "device_model", "manufacturer"]
    list_select_related = ["device_model__manufacturer", "business_unit", "assigned_to"]
    # Status moves only through the status machine (devices.services.device_transition).
    readonly_fields = ["status", "version", "created_at", "updated_at"]
    inlines = [DeviceEventInline]
    show_full_result_count = False


@admin.register(DeviceEvent)
class DeviceEventAdmin(admin.ModelAdmin):
    """The lifecycle log is append-only: viewable, never edited or deleted."""

    list_display = ["device", "kind", "occurred_at", "from_status", "to_status", "source"]
    list_filter = ["kind"]
    search_fields = ["device__asset_tag", "device__serial_number"]
    raw_id_fields = ["device"]
    show_full_result_count = False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(EntitlementException)
class EntitlementExceptionAdmin(SimpleHistoryAdmin):
    list_display = [
        "person",
        "category",
        "extra_quantity",
        "approved_by",
        "approved_at",
        "valid_until",
    ]
    list_filter = ["category"]
    search_fields = ["person__staff_number", "reason"]
    raw_id_fields = ["person", "approved_by"]


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    """Import runs are a record of what happened: viewable, never edited here."""

    list_display = ["id", "file_name", "created_by", "created_at", "mode", "dry_run", "status"]
    list_filter = ["status", "mode", "dry_run", "origin"]
    search_fields = ["file_name"]
    date_hierarchy = "created_at"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
