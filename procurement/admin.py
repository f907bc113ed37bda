"""Admin for every procurement model. Money-moving writes (approvals, transfers,
receipts) belong to the services and pages, so those models are read-only here."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from procurement import services
from procurement.models import (
    ApprovalAuthority,
    ApprovalRecord,
    BudgetLine,
    BudgetTransfer,
    CapitalEnvelope,
    Contract,
    ProcurementThreshold,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceivedDevice,
    Supplier,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CapitalEnvelope)
class CapitalEnvelopeAdmin(SimpleHistoryAdmin):
    list_display = ["name", "total", "decision_reference", "owner", "owner_role"]
    raw_id_fields = ["owner"]


@admin.register(BudgetLine)
class BudgetLineAdmin(SimpleHistoryAdmin):
    """New lines go through the service (the lines may not exceed the envelope);
    an existing line's amount changes only by a recorded transfer."""

    list_display = ["envelope", "financial_year", "category", "amount"]
    list_filter = ["financial_year", "category"]

    def get_readonly_fields(self, request, obj=None):
        return ["envelope", "financial_year", "category", "amount"] if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        created = services.budget_line_create(
            envelope=obj.envelope,
            financial_year=obj.financial_year,
            category=obj.category,
            amount=obj.amount,
        )
        obj.pk = created.pk


@admin.register(BudgetTransfer)
class BudgetTransferAdmin(ReadOnlyAdmin):
    list_display = ["made_at", "from_line", "to_line", "amount", "made_by"]


@admin.register(ProcurementThreshold)
class ProcurementThresholdAdmin(SimpleHistoryAdmin):
    list_display = ["kind", "amount", "effective_from", "source"]
    list_filter = ["kind"]


@admin.register(ApprovalAuthority)
class ApprovalAuthorityAdmin(SimpleHistoryAdmin):
    list_display = ["role", "limit", "effective_from"]


@admin.register(Supplier)
class SupplierAdmin(SimpleHistoryAdmin):
    list_display = ["name", "companies_house_number", "contact_email"]
    search_fields = ["name"]


@admin.register(Contract)
class ContractAdmin(SimpleHistoryAdmin):
    list_display = [
        "reference",
        "title",
        "supplier",
        "route",
        "value_ceiling",
        "start_date",
        "end_date",
    ]
    list_filter = ["route"]
    search_fields = ["reference", "title", "supplier__name"]
    raw_id_fields = ["created_by"]

    def get_readonly_fields(self, request, obj=None):
        # Value, route and term are what the £25m / 4-year authority was checked on.
        return ["envelope", "route", "value_ceiling", "start_date", "end_date"] if obj else []

    def save_model(self, request, obj, form, change):
        if change:
            return super().save_model(request, obj, form, change)
        created = services.contract_create(
            envelope=obj.envelope,
            supplier=obj.supplier,
            reference=obj.reference,
            title=obj.title,
            route=obj.route,
            value_ceiling=obj.value_ceiling,
            start_date=obj.start_date,
            end_date=obj.end_date,
            framework_name=obj.framework_name,
            framework_reference=obj.framework_reference,
            ordering_process_followed=obj.ordering_process_followed,
            created_by=request.user,
        )
        obj.pk = created.pk


class PurchaseOrderLineInline(admin.TabularInline):
    model = PurchaseOrderLine
    extra = 0
    can_delete = False
    readonly_fields = [
        "device_model",
        "quantity",
        "unit_price",
        "vat_rate",
        "net_total",
        "vat_total",
        "gross_total",
    ]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(SimpleHistoryAdmin):
    list_display = [
        "reference",
        "status",
        "budget_line",
        "supplier",
        "gross_total",
        "committed_total",
        "approved_on",
    ]
    list_filter = ["status", "budget_line__financial_year", "budget_line__category"]
    search_fields = ["reference", "description"]
    inlines = [PurchaseOrderLineInline]
    # Orders are raised, approved and received through the pages, the API and
    # procurement.services; here only the description may be corrected.
    readonly_fields = [
        "reference",
        "budget_line",
        "supplier",
        "contract",
        "business_unit",
        "status",
        "net_total",
        "vat_total",
        "gross_total",
        "committed_total",
        "raised_by",
        "approved_by",
        "approved_on",
        "approved_at",
        "submitted_at",
        "ordered_at",
        "closed_at",
        "cancelled_at",
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PurchaseOrderLine)
class PurchaseOrderLineAdmin(ReadOnlyAdmin):
    list_display = ["purchase_order", "device_model", "quantity", "unit_price", "gross_total"]


@admin.register(ApprovalRecord)
class ApprovalRecordAdmin(ReadOnlyAdmin):
    list_display = ["purchase_order", "kind", "reference", "recorded_by", "recorded_at"]


@admin.register(Receipt)
class ReceiptAdmin(ReadOnlyAdmin):
    list_display = ["line", "quantity", "value", "received_on", "received_by"]


@admin.register(ReceivedDevice)
class ReceivedDeviceAdmin(ReadOnlyAdmin):
    list_display = ["device", "line", "receipt"]
    raw_id_fields = ["device"]
