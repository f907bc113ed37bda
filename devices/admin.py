"""Admin for the estate.

Reference data operators maintain here (role profiles, entitlements, makers, the
catalogue, people) stays editable, every change recorded by simple-history. The
estate itself is not: a device's status, holder, unit and business fields change only
through ``devices.services`` (which write the lifecycle event and check entitlement)
from the pages, the API and the importer, so the admin shows devices, their events and
import runs and edits none of them. Entitlement exceptions are requested, approved and
refused here through the services, and never edited afterwards (DESIGN.md, "Rules at
every door": the admin is read-only wherever a service owns the change).
"""

from django.contrib import admin, messages
from simple_history.admin import SimpleHistoryAdmin

from accounts.admin import (
    CommercialFieldsAdminMixin,
    DomainErrorsAsMessagesMixin,
    NoHistoryRevertMixin,
    ScopedAdminMixin,
    ViewOnlyAdminMixin,
)
from accounts.models import BusinessUnit
from core.errors import DomainError
from devices import services
from devices.models import (
    ATCheck,
    Device,
    DeviceEvent,
    DeviceModel,
    Entitlement,
    EntitlementException,
    EstateCount,
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
class PersonAdmin(ScopedAdminMixin, SimpleHistoryAdmin):
    """People are staff data kept to the minimum; a scoped member of staff sees and
    places people only within their own units."""

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

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "business_unit":
            kwargs["queryset"] = BusinessUnit.objects.visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def has_delete_permission(self, request, obj=None):
        # Devices and their events name the person: record a leaver date instead.
        return False


@admin.register(Manufacturer)
class ManufacturerAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(DeviceModel)
class DeviceModelAdmin(CommercialFieldsAdminMixin, SimpleHistoryAdmin):
    list_display = ["manufacturer", "name", "category", "unit_price", "end_of_support"]
    list_filter = ["category", "manufacturer"]
    search_fields = ["name", "manufacturer__name"]
    list_select_related = ["manufacturer"]
    commercial_fields = ("unit_price",)


class DeviceEventInline(admin.TabularInline):
    model = DeviceEvent
    extra = 0
    can_delete = False
    fields = ["occurred_at", "kind", "from_status", "to_status", "recorded_by", "source", "details"]
    readonly_fields = fields
    ordering = ["occurred_at", "id"]

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Device)
class DeviceAdmin(
    ViewOnlyAdminMixin,
    NoHistoryRevertMixin,
    ScopedAdminMixin,
    CommercialFieldsAdminMixin,
    SimpleHistoryAdmin,
):
    """View only. Devices come in through the importer, receipts and the API, each
    with its event; status and holder move through ``device_transition`` /
    ``device_deploy`` (status machine, entitlement) and other fields through
    ``device_update`` (event, version), from the device pages and the API."""

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
    inlines = [DeviceEventInline]
    show_full_result_count = False
    commercial_fields = ("purchase_cost",)


@admin.register(DeviceEvent)
class DeviceEventAdmin(ViewOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """The lifecycle log is append-only (a PostgreSQL trigger refuses UPDATE and
    DELETE too): viewable, never added, edited or deleted here."""

    list_display = ["device", "kind", "occurred_at", "from_status", "to_status", "source"]
    list_filter = ["kind"]
    search_fields = ["device__asset_tag", "device__serial_number"]
    raw_id_fields = ["device"]
    list_select_related = ["device"]
    show_full_result_count = False


@admin.register(EntitlementException)
class EntitlementExceptionAdmin(
    NoHistoryRevertMixin, ScopedAdminMixin, DomainErrorsAsMessagesMixin, SimpleHistoryAdmin
):
    """Exceptions to a role's entitlement (strict deployment policy: anything beyond
    the role needs a reason and an approver). Adding one here is a request through
    ``entitlement_exception_request`` (the requester is whoever adds it); the actions
    approve or refuse through the services, which refuse an approval by the requester.
    A recorded exception is never edited or deleted: record a new one instead."""

    list_display = [
        "person",
        "category",
        "extra_quantity",
        "status",
        "requested_by",
        "approved_by",
        "approved_at",
        "valid_until",
    ]
    list_filter = ["status", "category"]
    search_fields = ["person__staff_number", "reason"]
    raw_id_fields = ["person"]
    fields = ["person", "category", "extra_quantity", "reason", "valid_until"]
    actions = ["approve", "refuse"]

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "person":
            kwargs["queryset"] = Person.objects.visible_to(request.user)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return self.fields
        return [
            *self.fields,
            "status",
            "requested_by",
            "requested_at",
            "approved_by",
            "approved_at",
        ]

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        created = services.entitlement_exception_request(
            person=obj.person,
            category=obj.category,
            reason=obj.reason,
            extra_quantity=obj.extra_quantity,
            valid_until=obj.valid_until,
            requested_by=request.user,
        )
        obj.pk = created.pk

    def _decide(self, request, queryset, decide, done: str):
        decided = 0
        for exception in queryset.order_by("pk"):
            try:
                decide(exception, request.user)
            except DomainError as error:
                self.message_user(request, f"{exception}: {error}", messages.ERROR)
            else:
                decided += 1
        if decided:
            self.message_user(request, f"{decided} exception(s) {done}.")

    @admin.action(description="Approve the selected requests")
    def approve(self, request, queryset):
        self._decide(
            request,
            queryset,
            lambda exception, user: services.entitlement_exception_approve(
                exception=exception, approver=user
            ),
            "approved",
        )

    @admin.action(description="Refuse the selected requests")
    def refuse(self, request, queryset):
        self._decide(
            request,
            queryset,
            lambda exception, user: services.entitlement_exception_refuse(
                exception=exception, refuser=user
            ),
            "refused",
        )


@admin.register(ATCheck)
class ATCheckAdmin(ViewOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """A deployment to someone with AT needs, awaiting confirmation that their AT
    works. Confirmed on the device pages through ``at_check_confirm`` (by someone
    other than the deployer, with a note); the admin only shows the checks."""

    list_display = [
        "device",
        "person",
        "deployed_by",
        "deployed_at",
        "confirmed_by",
        "confirmed_at",
    ]
    list_filter = [("confirmed_at", admin.EmptyFieldListFilter)]
    search_fields = ["device__asset_tag", "device__serial_number", "person__staff_number"]
    raw_id_fields = ["device", "person"]
    list_select_related = ["device", "person"]


@admin.register(EstateCount)
class EstateCountAdmin(ViewOnlyAdminMixin, ScopedAdminMixin, admin.ModelAdmin):
    """The estate's device counts by unit, model and status, kept by database triggers
    on the devices table (migration 0007): shown, never edited here."""

    list_display = ["business_unit", "device_model", "status", "devices"]
    list_filter = ["status"]
    list_select_related = ["business_unit", "device_model__manufacturer"]
    search_fields = ["business_unit__code", "business_unit__name"]
    show_full_result_count = False


@admin.register(ImportRun)
class ImportRunAdmin(ViewOnlyAdminMixin, admin.ModelAdmin):
    """Import runs are a record of what happened (a finished run is append-only in
    PostgreSQL): viewable, never added, edited or deleted here."""

    list_display = ["id", "file_name", "created_by", "created_at", "mode", "dry_run", "status"]
    list_filter = ["status", "mode", "dry_run", "origin"]
    search_fields = ["file_name"]
    date_hierarchy = "created_at"
