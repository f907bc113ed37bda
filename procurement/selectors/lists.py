"""Lists for the procurement pages and API: budget lines, transfers, contracts (with
their warnings), purchase orders."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db.models import Count, DecimalField, Prefetch, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from procurement.models import (
    COMMITTED_STATUSES,
    BudgetLine,
    BudgetTransfer,
    CapitalEnvelope,
    Contract,
    PurchaseOrder,
    PurchaseOrderLine,
    ReceivedDevice,
)
from procurement.selectors.headroom import current_envelope


def budget_line_list(*, envelope: CapitalEnvelope | None = None) -> QuerySet[BudgetLine]:
    envelope = envelope or current_envelope()
    if envelope is None:
        return BudgetLine.objects.none()
    return (
        BudgetLine.objects.filter(envelope=envelope)
        .select_related("envelope")
        .annotate(
            committed=Sum(
                "purchase_orders__committed_total",
                filter=Q(purchase_orders__status__in=COMMITTED_STATUSES),
            )
        )
        .order_by("financial_year", "category")
    )


def budget_transfer_list(*, envelope: CapitalEnvelope) -> QuerySet[BudgetTransfer]:
    return BudgetTransfer.objects.filter(envelope=envelope).select_related(
        "from_line", "to_line", "made_by"
    )


def contract_list(*, user=None) -> QuerySet[Contract]:
    """Contracts are organisation-wide (not unit data)."""
    return (
        Contract.objects.select_related("supplier", "envelope", "award")
        .annotate(
            committed=Coalesce(
                Sum(
                    "purchase_orders__committed_total",
                    filter=Q(purchase_orders__status__in=COMMITTED_STATUSES),
                ),
                Value(Decimal("0.00")),
                output_field=DecimalField(max_digits=14, decimal_places=2),
            ),
            order_count=Count("purchase_orders"),
        )
        .order_by("reference")
    )


def purchase_order_list(*, user, filters: dict | None = None) -> QuerySet[PurchaseOrder]:
    """Orders in the user's unit scope, with what a list shows in one query."""
    filters = filters or {}
    qs = (
        PurchaseOrder.objects.visible_to(user)
        .select_related("budget_line", "supplier", "contract", "business_unit", "raised_by")
        .annotate(quantity=Sum("lines__quantity"))
    )
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("financial_year"):
        qs = qs.filter(budget_line__financial_year=filters["financial_year"])
    if filters.get("category"):
        qs = qs.filter(budget_line__category=filters["category"])
    if filters.get("budget_line"):
        qs = qs.filter(budget_line_id=getattr(filters["budget_line"], "pk", filters["budget_line"]))
    if filters.get("supplier"):
        qs = qs.filter(supplier_id=filters["supplier"])
    if filters.get("q"):
        qs = qs.filter(
            Q(reference__icontains=filters["q"]) | Q(description__icontains=filters["q"])
        )
    return qs.order_by("-id")


def purchase_order_get(*, user, pk: int) -> PurchaseOrder:
    """One order in the user's scope (PurchaseOrder.DoesNotExist otherwise, a 404)."""
    return (
        PurchaseOrder.objects.visible_to(user)
        .select_related(
            "budget_line__envelope",
            "supplier",
            "contract",
            "business_unit",
            "raised_by",
            "approved_by",
            "returned_by",
            "cancelled_by",
        )
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=PurchaseOrderLine.objects.select_related(
                    "device_model__manufacturer"
                ).annotate(received=Sum("receipts__quantity")),
            ),
            "approval_records__recorded_by",
        )
        .get(pk=pk)
    )


def received_devices_for(*, purchase_order: PurchaseOrder, limit: int = 500):
    """The devices received against an order (already looked up within the user's scope)."""
    return (
        ReceivedDevice.objects.filter(line__purchase_order=purchase_order)
        .select_related("device", "receipt")
        .order_by("id")[:limit]
    )


def purchase_order_status_counts(*, user) -> dict[str, int]:
    rows = (
        PurchaseOrder.objects.visible_to(user)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    return dict(rows)


# --- contract warnings ---------------------------------------------------------

# A contract ending within this many months is flagged (time to re-procure).
EXPIRY_WARNING_MONTHS = 6
# A ceiling less than this share used, with less than a year left, is flagged (money
# that may lapse, or a ceiling set too high).
LOW_USE_SHARE = Decimal("0.25")
LOW_USE_DAYS_LEFT = 365


def _months_after(day: dt.date, months: int) -> dt.date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def contract_warnings(*, contract: Contract, today: dt.date, commercial: bool) -> list[dict]:
    """What a contract's page and the list warn of: expired, ending within six months,
    and (for finance and commercial roles: it compares with the ceiling) less than a
    quarter of the ceiling used with less than a year left. ``contract.committed`` is
    the list's annotation. Each warning is ``{"code", "tag", "text"}``."""
    warnings = []
    if contract.end_date < today:
        warnings.append(
            {
                "code": "expired",
                "tag": "govuk-tag--red",
                "label": "Expired",
                "text": f"Expired on {contract.end_date:%-d %B %Y}: it takes no new orders.",
            }
        )
    elif contract.end_date <= _months_after(today, EXPIRY_WARNING_MONTHS):
        days = (contract.end_date - today).days
        warnings.append(
            {
                "code": "expiring",
                "tag": "govuk-tag--orange",
                "label": "Ends soon",
                "text": f"Ends on {contract.end_date:%-d %B %Y}, in {days} day"
                f"{'' if days == 1 else 's'}: plan its replacement.",
            }
        )
    if commercial and contract.end_date >= today:
        committed = getattr(contract, "committed", None) or Decimal("0")
        share = committed / contract.value_ceiling if contract.value_ceiling else Decimal("0")
        days_left = (contract.end_date - today).days
        if share < LOW_USE_SHARE and days_left < LOW_USE_DAYS_LEFT:
            warnings.append(
                {
                    "code": "ceiling_unused",
                    "tag": "govuk-tag--yellow",
                    "label": "Ceiling little used",
                    "text": f"Only {share:.0%} of the ceiling is committed with {days_left} day"
                    f"{'' if days_left == 1 else 's'} left.",
                }
            )
    return warnings
