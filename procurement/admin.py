"""Admin for every procurement model. Every write here goes through a service or is
refused: money-moving records (approval records, transfers, receipts, awards) and
orders' status are read-only; thresholds and approval authorities are add-only (a
new dated row through the service), never edited in place or deleted."""

from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from accounts.admin import DomainErrorsAsMessagesMixin, NoHistoryRevertMixin, ScopedAdminMixin
from procurement import services
from procurement.models import (
    ApprovalAuthority,
    ApprovalRecord,
    BudgetLine,
    BudgetTransfer,
    CapitalEnvelope,
    Contract,
    ContractAward,
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


class AddOnlyAdmin(NoHistoryRevertMixin, DomainErrorsAsMessagesMixin, SimpleHistoryAdmin):
    """Rows are added (through ``create``, a service) and then only viewed."""

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(CapitalEnvelope)
class CapitalEnvelopeAdmin(AddOnlyAdmin):
    """The envelope is the DMPC's decision: recorded once through the service; its
    total and the delegation limits change only by a new decision, not here."""

    list_display = [
        "name",
        "total",
        "decision_reference",
        "owner",
        "owner_role",
        "funded_categories",
    ]
    raw_id_fields = ["owner"]

    def save_model(self, request, obj, form, change):
        created = services.capital_envelope_create(
            name=obj.name,
            total=obj.total,
            decision_reference=obj.decision_reference,
            owner=obj.owner,
            owner_role=obj.owner_role,
            description=obj.description,
            funded_categories=obj.funded_categories,
        )
        obj.pk = created.pk


@admin.register(BudgetLine)
class BudgetLineAdmin(AddOnlyAdmin):
    """New lines go through the service (the lines may not exceed the envelope);
    an existing line's amount changes only by a recorded transfer."""

    list_display = ["envelope", "financial_year", "category", "amount"]
    list_filter = ["financial_year", "category"]

    def save_model(self, request, obj, form, change):
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
class ProcurementThresholdAdmin(AddOnlyAdmin):
    """Thresholds change by a new dated row (the one in force is the latest)."""

    list_display = ["kind", "amount", "effective_from", "source"]
    list_filter = ["kind"]

    def save_model(self, request, obj, form, change):
        created = services.threshold_create(
            kind=obj.kind, amount=obj.amount, effective_from=obj.effective_from, source=obj.source
        )
        obj.pk = created.pk


@admin.register(ApprovalAuthority)
class ApprovalAuthorityAdmin(AddOnlyAdmin):
    """A change of authority is a new dated row; an unlimited one names its decision."""

    list_display = ["role", "limit", "effective_from", "decision_reference", "recorded_by"]
    fields = ["role", "limit", "effective_from", "decision_reference"]

    def save_model(self, request, obj, form, change):
        created = services.approval_authority_set(
            role=obj.role,
            limit=obj.limit,
            effective_from=obj.effective_from,
            decision_reference=obj.decision_reference,
            recorded_by=request.user,
        )
        obj.pk = created.pk


@admin.register(Supplier)
class SupplierAdmin(SimpleHistoryAdmin):
    list_display = ["name", "companies_house_number", "contact_email"]
    search_fields = ["name"]


@admin.register(Contract)
class ContractAdmin(NoHistoryRevertMixin, DomainErrorsAsMessagesMixin, SimpleHistoryAdmin):
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
    # Value, route, term and framework are what the £25m / 4-year authority and the
    # framework's ceiling were checked on: set once, through the service.
    CHECKED_FIELDS = [
        "envelope",
        "supplier",
        "route",
        "framework_name",
        "framework_reference",
        "ordering_process_followed",
        "framework_ceiling",
        "framework_end_date",
        "value_ceiling",
        "start_date",
        "end_date",
        "created_by",
    ]

    def has_delete_permission(self, request, obj=None):
        return False

    def get_readonly_fields(self, request, obj=None):
        return self.CHECKED_FIELDS if obj else ["created_by"]

    def save_model(self, request, obj, form, change):
        if change:
            # Only the reference and title are editable here; the rest is read-only.
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
            framework_ceiling=obj.framework_ceiling,
            framework_end_date=obj.framework_end_date,
            created_by=request.user,
        )
        obj.pk = created.pk


@admin.register(ContractAward)
class ContractAwardAdmin(ReadOnlyAdmin):
    """Awards are recorded on the contract's page or through the API (the service)."""

    list_display = [
        "contract",
        "awarded_on",
        "compliant_route",
        "dsp_consent_reference",
        "dmpc_called_in",
        "recorded_by",
    ]


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
class PurchaseOrderAdmin(ScopedAdminMixin, NoHistoryRevertMixin, SimpleHistoryAdmin):
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
    # procurement.services; here they are only viewed (status and money included).
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
        "cancelled_by",
        "cancellation_reason",
        "returned_at",
        "returned_by",
        "returned_reason",
        "revision",
    ]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(PurchaseOrderLine)
class PurchaseOrderLineAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    list_display = ["purchase_order", "device_model", "quantity", "unit_price", "gross_total"]


@admin.register(ApprovalRecord)
class ApprovalRecordAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    list_display = ["purchase_order", "kind", "reference", "recorded_by", "recorded_at"]


@admin.register(Receipt)
class ReceiptAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    list_display = ["line", "quantity", "value", "received_on", "received_by"]


@admin.register(ReceivedDevice)
class ReceivedDeviceAdmin(ScopedAdminMixin, ReadOnlyAdmin):
    list_display = ["device", "line", "receipt"]
    raw_id_fields = ["device"]
