"""Admin for disposals. Every write goes through a service or is refused:

* partners are edited, and saved only through ``services.partner_save``;
* residual-value rules are add-only (``services.residual_value_rule_create``): a
  stored rule is never changed, finance adds a new one from a later date;
* the records of the flow are view-only, never deletable, and their statuses move
  only through the services (the admin actions below call them, with the staff
  user as the actor, so scope, the sanitisation gate and the finance sign-off of
  resale overrides all apply); a route override's rejection (which needs a reason)
  is made on the sign-off page or through the API, never here."""

from django.contrib import admin, messages
from simple_history.admin import SimpleHistoryAdmin

from accounts.admin import NoHistoryRevertMixin, ScopedAdminMixin
from core.errors import DomainError
from disposals import services
from disposals.models import (
    Consignment,
    DisposalCase,
    Partner,
    ResidualValueAssessment,
    ResidualValueRule,
    RouteDecision,
    RouteOverrideSignOff,
    SanitisationRecord,
)


class NeverDeleteAdmin(admin.ModelAdmin):
    """Disposal records are never deleted: retention is a policy, not a cascade."""

    def has_delete_permission(self, request, obj=None):
        return False

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


class ReadOnlyRecordAdmin(NeverDeleteAdmin):
    """The records are written by the services only; the admin shows them."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Partner)
class PartnerAdmin(SimpleHistoryAdmin):
    list_display = ["name", "kind", "licence_number", "approved"]
    list_filter = ["kind", "approved"]
    search_fields = ["name", "licence_number"]

    def has_delete_permission(self, request, obj=None):
        return False  # consignments point at partners: withdraw approval instead

    def save_model(self, request, obj, form, change):
        services.partner_save(partner=obj)


@admin.register(ResidualValueRule)
class ResidualValueRuleAdmin(NoHistoryRevertMixin, SimpleHistoryAdmin):
    """Finance tunes the residual-value rule here (a new row with a new effective date
    keeps earlier assessments explainable)."""

    list_display = ["name", "effective_from", "resale_threshold", "floor"]

    def has_change_permission(self, request, obj=None):
        return False  # add-only: each assessment keeps the rule it used

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        services.residual_value_rule_create(rule=obj, actor=request.user)


class SanitisationInline(admin.TabularInline):
    model = SanitisationRecord
    extra = 0
    can_delete = False
    fields = ["performed_at", "method", "standard", "tool", "operator", "verifier", "result"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False


@admin.action(description="Accept the suggested route (through the service)")
def accept_suggested_route(modeladmin, request, queryset):
    try:
        done = services.routes_decide(
            case_ids=list(queryset.values_list("pk", flat=True)), actor=request.user, source="admin"
        )
    except DomainError as exc:
        modeladmin.message_user(request, exc.message, level=messages.ERROR)
    else:
        modeladmin.message_user(request, f"Routed {len(done)} case(s).")


@admin.action(description="Sign off the route override (finance or commercial officers)")
def sign_off_route_override(modeladmin, request, queryset):
    try:
        done = services.route_overrides_sign_off(
            case_ids=list(queryset.values_list("pk", flat=True)),
            approver=request.user,
            source="admin",
        )
    except DomainError as exc:
        modeladmin.message_user(request, exc.message, level=messages.ERROR)
    else:
        modeladmin.message_user(request, f"Signed off {len(done)} route override(s).")


@admin.register(DisposalCase)
class DisposalCaseAdmin(ScopedAdminMixin, ReadOnlyRecordAdmin):
    list_display = ["device", "status", "route", "consignment", "opened_at", "disposed_at"]
    list_filter = ["status", "route"]
    search_fields = ["device__asset_tag", "device__serial_number"]
    list_select_related = ["device", "consignment"]
    raw_id_fields = ["device", "consignment"]
    inlines = [SanitisationInline]
    actions = [accept_suggested_route, sign_off_route_override]


@admin.register(SanitisationRecord)
class SanitisationRecordAdmin(ScopedAdminMixin, ReadOnlyRecordAdmin):
    list_display = ["case", "method", "standard", "operator", "verifier", "result", "performed_at"]
    list_filter = ["result", "method"]
    search_fields = ["certificate_ref", "case__device__serial_number", "case__device__asset_tag"]
    list_select_related = ["case"]


@admin.register(ResidualValueAssessment)
class ResidualValueAssessmentAdmin(ScopedAdminMixin, ReadOnlyRecordAdmin):
    list_display = ["case", "grade", "estimated_value", "assessed_by", "assessed_at"]
    list_filter = ["grade"]
    list_select_related = ["case", "assessed_by"]


@admin.register(RouteDecision)
class RouteDecisionAdmin(ScopedAdminMixin, ReadOnlyRecordAdmin):
    list_display = [
        "case",
        "suggested_route",
        "route",
        "needs_sign_off",
        "decided_by",
        "decided_at",
    ]
    list_filter = ["route", "suggested_route", "needs_sign_off"]
    list_select_related = ["case", "decided_by"]


@admin.register(RouteOverrideSignOff)
class RouteOverrideSignOffAdmin(ScopedAdminMixin, ReadOnlyRecordAdmin):
    """Sign-offs and rejections of route overrides: decided on the sign-off page or
    through the API (``services.route_overrides_sign_off`` / ``_reject``), shown here
    read-only. A rejection needs a reason the admin's bulk actions cannot ask for, so
    only the sign-off has an action (on disposal cases)."""

    list_display = [
        "decision",
        "outcome",
        "signed_off_by",
        "signed_off_as",
        "signed_off_at",
        "reason",
    ]
    list_filter = ["outcome", "signed_off_as"]
    list_select_related = ["decision", "signed_off_by"]


@admin.register(Consignment)
class ConsignmentAdmin(ScopedAdminMixin, ReadOnlyRecordAdmin):
    list_display = ["reference", "route", "partner", "status", "dispatch_date", "closed_at"]
    list_filter = ["route", "status"]
    search_fields = ["reference", "transfer_note_ref"]
    list_select_related = ["partner"]
