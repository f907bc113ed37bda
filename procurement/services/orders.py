"""Purchase orders: raising and changing them, their approval against the
thresholds, delegated limits and the envelope, and their later status changes.

Every status change goes through ``_set_status`` (the machine in
``procurement.models.ALLOWED_TRANSITIONS``), on an order row locked by the caller.
The lock order is the envelope's (``procurement.services.envelope``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.roles import Role, has_role
from core.errors import DomainError
from core.financial_year import FinancialYear, financial_year
from procurement.models import (
    ALLOWED_TRANSITIONS,
    COMMITTED_STATUSES,
    ApprovalRecord,
    BudgetLine,
    CapitalEnvelope,
    Contract,
    ContractAward,
    ProcurementThreshold,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    Supplier,
)
from procurement.services.common import ZERO, gbp, london_today
from procurement.services.contracts import approval_limit_for, threshold_in_force
from procurement.services.envelope import _committed_on

# As long as the order's reason columns hold.
REASON_MAX = 500


def _set_status(*, order: PurchaseOrder, to_status: str) -> None:
    """The one place an order's status changes; refuses what the machine does not allow.

    ``order`` must be a row locked by the caller."""
    if to_status not in ALLOWED_TRANSITIONS.get(order.status, frozenset()):
        labels = dict(PurchaseOrder.Status.choices)
        raise DomainError(
            f"{order} cannot move from {labels[order.status]} to {labels[to_status]}.",
            field="status",
            code="transition_not_allowed",
        )
    order.status = to_status


def _lock_order(order: PurchaseOrder) -> PurchaseOrder:
    return PurchaseOrder.objects.select_for_update().get(pk=order.pk)


def _apply_totals(order: PurchaseOrder, lines: list[PurchaseOrderLine]) -> None:
    order.net_total = sum((line.net_total for line in lines), ZERO)
    order.vat_total = sum((line.vat_total for line in lines), ZERO)
    order.gross_total = order.net_total + order.vat_total


def purchase_order_create(
    *,
    budget_line: BudgetLine,
    supplier,
    business_unit,
    raised_by,
    lines: list[dict],
    contract: Contract | None = None,
    description: str = "",
) -> PurchaseOrder:
    """Raise a draft order with its lines (each ``{device_model, quantity, unit_price,
    vat_rate}``). Every line's model must be in the budget line's category, and a
    contract must be with the order's supplier and its award recorded (business case,
    Legal Comments: compliant route, the Director of Strategic Procurement's consent
    and, at £500,000 and above, the DMPC call-in outcome). Totals are worked out per
    line."""
    if contract is not None and contract.supplier_id != supplier.pk:
        raise DomainError(
            f"Contract {contract.reference} is with {contract.supplier}, not {supplier}.",
            field="contract",
        )
    if contract is not None:
        _require_awarded(contract)
    with transaction.atomic():
        order = PurchaseOrder(
            budget_line=budget_line,
            supplier=supplier,
            contract=contract,
            business_unit=business_unit,
            raised_by=raised_by,
            description=description,
        )
        built = _build_lines(budget_line=budget_line, lines=lines)
        _apply_totals(order, built)
        order.full_clean(exclude=["reference"])
        order.save()
        order.reference = f"PO-{order.pk:06d}"
        order.save(update_fields=["reference"])
        _save_lines(order, built)
    return order


def _require_awarded(contract: Contract) -> None:
    if not ContractAward.objects.filter(contract_id=contract.pk).exists():
        raise DomainError(
            f"Contract {contract.reference} takes no orders until its award is recorded "
            "(compliant route, the Director of Strategic Procurement's consent and, at "
            "£500,000 and above, the DMPC call-in outcome).",
            field="contract",
            code="contract_not_awarded",
        )


def _build_lines(*, budget_line: BudgetLine, lines: list[dict]) -> list[PurchaseOrderLine]:
    if not lines:
        raise DomainError("An order needs at least one line.", field="lines")
    built = []
    for number, spec in enumerate(lines, start=1):
        model = spec["device_model"]
        if model.category != budget_line.category:
            raise DomainError(
                f"Line {number}: {model} is a {model.category}, but the budget line is "
                f"for {budget_line.category}.",
                field="lines",
            )
        line = PurchaseOrderLine(
            device_model=model,
            quantity=spec["quantity"],
            unit_price=Decimal(spec["unit_price"]),
            vat_rate=Decimal(spec.get("vat_rate", Decimal("0.2"))),
        )
        line.compute_totals()
        built.append(line)
    return built


def _save_lines(order: PurchaseOrder, built: list[PurchaseOrderLine]) -> None:
    for number, line in enumerate(built, start=1):
        line.purchase_order = order
        try:
            line.full_clean()
        except ValidationError as exc:  # name the line in the message
            raise DomainError(f"Line {number}: {exc}", field="lines") from exc
    PurchaseOrderLine.objects.bulk_create(built)


def purchase_order_lines_replace(
    *, purchase_order: PurchaseOrder, lines: list[dict], actor
) -> PurchaseOrder:
    """Replace a draft order's lines and recompute its totals. Only drafts change:
    a submitted order goes back to draft first, so nobody approves a moving target.
    The order starts a new revision: approval records made for the old value stay
    (they are append-only) but no longer count."""
    with transaction.atomic():
        order = _lock_order(purchase_order)
        if order.status != PurchaseOrder.Status.DRAFT:
            raise DomainError(
                f"{order} is {order.get_status_display().lower()}: only a draft can be changed.",
                field="lines",
            )
        built = _build_lines(budget_line=order.budget_line, lines=lines)
        # Approvals recorded against the old value no longer speak for the new one.
        order.revision += 1
        order.lines.all().delete()
        _save_lines(order, built)
        _apply_totals(order, built)
        order.full_clean()
        order.save(update_fields=["net_total", "vat_total", "gross_total", "revision"])
    return order


def purchase_order_submit(*, purchase_order: PurchaseOrder, actor) -> PurchaseOrder:
    """Send a draft for approval."""
    with transaction.atomic():
        order = _lock_order(purchase_order)
        _set_status(order=order, to_status=PurchaseOrder.Status.SUBMITTED)
        order.submitted_at = timezone.now()
        order.save(update_fields=["status", "submitted_at"])
    purchase_order.status, purchase_order.submitted_at = order.status, order.submitted_at
    return order


def approval_record_add(
    *, purchase_order: PurchaseOrder, kind: str, reference: str, recorded_by, note: str = ""
) -> ApprovalRecord:
    """Record a compliant-route confirmation or the DMPC's approval / no call-in.

    A compliant-route confirmation is for commercial officers (the Director of
    Strategic Procurement's consent); DMPC decisions are recorded by finance or
    commercial officers from the decision notice."""
    if kind == ApprovalRecord.Kind.COMPLIANT_ROUTE and not has_role(recorded_by, Role.COMMERCIAL):
        raise DomainError(
            "Only commercial officers may confirm the procurement route.",
            field="kind",
            code="permission_denied",
        )
    if not has_role(recorded_by, Role.COMMERCIAL, Role.FINANCE):
        raise DomainError(
            "Only finance or commercial officers may record approvals.",
            field="kind",
            code="permission_denied",
        )
    with transaction.atomic():
        order = _lock_order(purchase_order)
        if order.status not in (PurchaseOrder.Status.DRAFT, PurchaseOrder.Status.SUBMITTED):
            raise DomainError(f"{order} is already past approval.", field="kind")
        if order.approval_records.filter(kind=kind, order_revision=order.revision).exists():
            raise DomainError(f"{order} already has that approval recorded.", field="kind")
        record = ApprovalRecord(
            purchase_order=order,
            kind=kind,
            order_revision=order.revision,
            reference=(reference or "").strip(),
            note=note,
            recorded_by=recorded_by,
            recorded_at=timezone.now(),
        )
        record.full_clean()
        record.save()
    return record


def award_value(*, purchase_order: PurchaseOrder) -> tuple[Decimal, list[PurchaseOrder]]:
    """The value the thresholds are measured on, and the orders that make it.

    Under a contract: the order's own value (the contract's award was measured on
    the contract's value when it was recorded). Without a contract: the aggregate of
    the committed orders without a contract to the same supplier, for the same
    category, in the same financial year, plus this order, so that a purchase is not
    split into orders each under a threshold (Public Contracts Regulations: the value
    of a purchase is not to be split to avoid them). ``committed_total`` is what each
    order holds (its value actually received once closed short).
    """
    order = purchase_order
    if order.contract_id is not None:
        return order.gross_total, [order]
    line = order.budget_line
    others = list(
        PurchaseOrder.objects.filter(
            supplier_id=order.supplier_id,
            contract__isnull=True,
            budget_line__category=line.category,
            budget_line__financial_year=line.financial_year,
            status__in=COMMITTED_STATUSES,
        )
        .exclude(pk=order.pk)
        .order_by("pk")
    )
    total = sum((o.committed_total for o in others), ZERO) + order.gross_total
    return total, [*others, order]


def _aggregate_words(order: PurchaseOrder, value: Decimal, orders: list[PurchaseOrder]) -> str:
    if len(orders) == 1:
        return f"At {gbp(value)}"
    parts = ", ".join(
        f"{o} ({gbp(o.gross_total if o.pk == order.pk else o.committed_total)})" for o in orders
    )
    line = order.budget_line
    return (
        f"With no contract, orders to {order.supplier} for {line.category} in "
        f"{line.financial_year} aggregate to {gbp(value)} ({parts})"
    )


def approval_requirements(*, purchase_order: PurchaseOrder, on_date: dt.date) -> list[str]:
    """What is missing before this order may be approved on ``on_date``, by the
    thresholds in force that day (empty when nothing is missing).

    The value measured is ``award_value``: the order's under a contract, or the
    aggregate of the supplier's committed off-contract orders for the same category
    and financial year plus this one (no splitting).

    - At or above the procurement-regulations threshold (£213,477 incl. VAT in the
      business case), the award needs a compliant route: a commercial officer's
      confirmation record, and an order itself that large must be placed under a
      contract that is a new contract or a call-off whose framework ordering process
      was followed.
    - At or above the Deputy Mayor's threshold (£500,000), a "DMPC approval / no
      call-in" record.
    """
    gross = purchase_order.gross_total
    missing: list[str] = []
    regulations = threshold_in_force(kind=ProcurementThreshold.Kind.REGULATIONS, on_date=on_date)
    deputy_mayor = threshold_in_force(kind=ProcurementThreshold.Kind.DEPUTY_MAYOR, on_date=on_date)
    if regulations is None or deputy_mayor is None:
        missing.append(f"No procurement thresholds are in force on {on_date:%d %B %Y}.")
        return missing
    value, orders = award_value(purchase_order=purchase_order)
    words = _aggregate_words(purchase_order, value, orders)
    kinds = set(
        purchase_order.approval_records.filter(order_revision=purchase_order.revision).values_list(
            "kind", flat=True
        )
    )
    if gross >= regulations.amount:
        contract = purchase_order.contract
        if contract is None or not contract.is_compliant_route:
            missing.append(
                f"At {gbp(gross)} the order is at or above the procurement-regulations "
                f"threshold of {gbp(regulations.amount)}: it needs a contract on a compliant "
                "route (a new contract, or a call-off following the framework's ordering "
                "process)."
            )
    if value >= regulations.amount and ApprovalRecord.Kind.COMPLIANT_ROUTE not in kinds:
        missing.append(
            f"{words}, at or above the procurement-regulations threshold of "
            f"{gbp(regulations.amount)}: a commercial officer must confirm the compliant route."
        )
    if value >= deputy_mayor.amount and ApprovalRecord.Kind.DMPC not in kinds:
        missing.append(
            f"{words}, at or above {gbp(deputy_mayor.amount)}: record the DMPC approval / "
            "no call-in first."
        )
    return missing


def purchase_order_approve(*, purchase_order: PurchaseOrder, approved_by) -> PurchaseOrder:
    """Approve a submitted order today, committing its gross value against its budget
    line and the envelope.

    The approval day is always today in London: no caller names it, so nobody can
    approve into a financial year that has closed, nor under thresholds or an
    authority no longer in force (business case, "Financial, Commercial and
    Procurement"). What the approval checks is ``_approve_on``'s docstring.
    """
    return _approve_on(purchase_order=purchase_order, approved_by=approved_by, day=london_today())


def _approve_on(*, purchase_order: PurchaseOrder, approved_by, day: dt.date) -> PurchaseOrder:
    """Approve ``purchase_order`` as on ``day``. Private: the one public door is
    ``purchase_order_approve`` (today). The only other caller is the demo's loader of
    past approvals (``procurement.demo``), which writes history as it stood on each
    day under the same rules.

    Rules (business case, "Financial, Commercial and Procurement" and "Legal
    Comments"): the approver is neither the order's raiser nor the recorder of its
    compliant-route or DMPC record (separation of duties) and holds a role whose
    delegated limit in force covers the gross value; the budget line's financial year
    is not closed on the approval day (money of a closed year is reprofiled to an
    open line by a recorded budget transfer first); a contract's award is recorded,
    and it is in force that day with its ceiling not exceeded; the thresholds in
    force decide which approval records must exist, measured on the aggregate of
    off-contract orders to the supplier (no splitting); and the committed total may
    never exceed the line or the envelope ("Commitments may never exceed it, even
    under concurrent approvals").
    """
    on_date = day
    with transaction.atomic():
        # The race this guards: two approvals each read "£X committed", each see
        # room for themselves, and together overspend. Locking the envelope row,
        # then the line (the house order), serialises every approval against the
        # same envelope; the sums are recomputed from the orders *inside* the lock,
        # so each approval sees every commitment that won the lock before it.
        envelope = CapitalEnvelope.objects.select_for_update().get(
            pk=BudgetLine.objects.values_list("envelope_id", flat=True).get(
                pk=purchase_order.budget_line_id
            )
        )
        line = BudgetLine.objects.select_for_update().get(pk=purchase_order.budget_line_id)
        # The supplier row, next: the no-splitting aggregate is per supplier, category
        # and year, across envelopes, so two approvals of one supplier's off-contract
        # orders could each read "under the threshold" and both slip under it.
        # Locking the supplier serialises them whatever envelope they are against.
        Supplier.objects.select_for_update().get(pk=purchase_order.supplier_id)
        # The contract's ceiling is guarded the same way; its row comes after the
        # supplier in the lock order (orders on one contract may span several lines).
        contract = (
            Contract.objects.select_for_update().get(pk=purchase_order.contract_id)
            if purchase_order.contract_id
            else None
        )
        order = _lock_order(purchase_order)
        if order.status != PurchaseOrder.Status.SUBMITTED:
            _set_status(order=order, to_status=PurchaseOrder.Status.APPROVED)  # raises
        if order.raised_by_id == approved_by.pk:
            raise DomainError(
                "The person who raised an order cannot approve it.", code="same_person"
            )
        recorded = (
            order.approval_records.filter(
                order_revision=order.revision, recorded_by_id=approved_by.pk
            )
            .order_by("kind")
            .first()
        )
        if recorded is not None:
            raise DomainError(
                f"You recorded {order}'s {recorded.get_kind_display().lower()} record: "
                "someone else must approve it.",
                code="same_person",
            )
        may_approve, limit = approval_limit_for(user=approved_by, on_date=on_date)
        if not may_approve:
            raise DomainError(
                "You have no delegated authority to approve purchase orders.",
                code="permission_denied",
            )
        if limit is not None and order.gross_total > limit:
            raise DomainError(
                f"{order} is {gbp(order.gross_total)}; your delegated limit is {gbp(limit)} "
                f"({gbp(order.gross_total - limit)} over). A commercial officer must approve it.",
                code="permission_denied",
            )
        if contract is not None:
            _require_awarded(contract)
        if contract is not None and not contract.in_force_on(on_date):
            raise DomainError(
                f"Contract {contract.reference} is not in force on {on_date:%d %B %Y}.",
                field="contract",
            )
        year = FinancialYear.parse(line.financial_year)
        if year < financial_year(on_date):
            raise DomainError(
                f"The {line.financial_year} budget year closed on {year.end:%d %B %Y}: "
                f"nothing more may be committed against its {line.category} line. Finance "
                "can reprofile the money to an open year's line with a budget transfer, "
                "and the order be raised against that line.",
                field="budget_line",
                code="financial_year_closed",
            )
        missing = approval_requirements(purchase_order=order, on_date=on_date)
        if missing:
            raise DomainError(" ".join(missing), code="approval_missing")
        line_committed = _committed_on(budget_line_ids=[line.pk])
        if line_committed + order.gross_total > line.amount:
            over = line_committed + order.gross_total - line.amount
            raise DomainError(
                f"Approving {order} would exceed the {line.financial_year} {line.category} "
                f"line by {gbp(over)}.",
                code="envelope_exceeded",
            )
        envelope_committed = _committed_on(
            budget_line_ids=envelope.budget_lines.values_list("pk", flat=True)
        )
        if envelope_committed + order.gross_total > envelope.total:
            over = envelope_committed + order.gross_total - envelope.total
            raise DomainError(
                f"Approving {order} would exceed the envelope by {gbp(over)}.",
                code="envelope_exceeded",
            )
        if contract is not None:
            on_contract = (
                PurchaseOrder.objects.filter(
                    contract=contract, status__in=COMMITTED_STATUSES
                ).aggregate(total=Sum("committed_total"))["total"]
                or ZERO
            )
            if on_contract + order.gross_total > contract.value_ceiling:
                over = on_contract + order.gross_total - contract.value_ceiling
                raise DomainError(
                    f"Approving {order} would exceed contract {contract.reference}'s ceiling "
                    f"of {gbp(contract.value_ceiling)} by {gbp(over)}.",
                    field="contract",
                    code="contract_ceiling_exceeded",
                )
        _set_status(order=order, to_status=PurchaseOrder.Status.APPROVED)
        order.committed_total = order.gross_total
        order.approved_by = approved_by
        order.approved_on = on_date
        order.approved_at = timezone.now()
        order.save(
            update_fields=["status", "committed_total", "approved_by", "approved_on", "approved_at"]
        )
    purchase_order.status = order.status
    purchase_order.committed_total = order.committed_total
    return order


def _reason(reason: str | None, *, doing: str) -> str:
    text = (reason or "").strip()
    if not text:
        raise DomainError(f"Give a reason for {doing}.", field="reason", code="reason_required")
    if len(text) > REASON_MAX:
        raise DomainError(
            f"The reason must be {REASON_MAX} characters or fewer.",
            field="reason",
            code="reason_too_long",
        )
    return text


def purchase_order_return_to_draft(
    *, purchase_order: PurchaseOrder, actor, reason: str
) -> PurchaseOrder:
    """Send a submitted order back to its raiser for changes, saying why (the reason is
    kept on the order and in its history)."""
    text = _reason(reason, doing="returning the order to draft")
    with transaction.atomic():
        order = _lock_order(purchase_order)
        _set_status(order=order, to_status=PurchaseOrder.Status.DRAFT)
        order.returned_reason = text
        order.returned_by = actor
        order.returned_at = timezone.now()
        order.save(update_fields=["status", "returned_reason", "returned_by", "returned_at"])
    purchase_order.status = order.status
    return order


def purchase_order_mark_ordered(*, purchase_order: PurchaseOrder, actor) -> PurchaseOrder:
    """Record that an approved order was placed with the supplier."""
    with transaction.atomic():
        order = _lock_order(purchase_order)
        _set_status(order=order, to_status=PurchaseOrder.Status.ORDERED)
        order.ordered_at = timezone.now()
        order.save(update_fields=["status", "ordered_at"])
    purchase_order.status = order.status
    return order


def purchase_order_cancel(*, purchase_order: PurchaseOrder, actor, reason: str) -> PurchaseOrder:
    """Cancel an order not yet received, saying why; it releases its commitment. The
    database refuses a cancelled order without a reason, whatever the door."""
    text = _reason(reason, doing="cancelling the order")
    with transaction.atomic():
        order = _lock_order(purchase_order)
        _set_status(order=order, to_status=PurchaseOrder.Status.CANCELLED)
        order.committed_total = ZERO
        order.cancelled_at = timezone.now()
        order.cancellation_reason = text
        order.cancelled_by = actor
        order.save(
            update_fields=[
                "status",
                "committed_total",
                "cancelled_at",
                "cancellation_reason",
                "cancelled_by",
            ]
        )
    purchase_order.status, purchase_order.committed_total = order.status, order.committed_total
    return order


def purchase_order_close(*, purchase_order: PurchaseOrder, actor) -> PurchaseOrder:
    """Close a received or partly received order. Closing short releases what was
    never delivered: the commitment becomes the value actually received."""
    with transaction.atomic():
        order = _lock_order(purchase_order)
        _set_status(order=order, to_status=PurchaseOrder.Status.CLOSED)
        received = (
            Receipt.objects.filter(line__purchase_order=order).aggregate(total=Sum("value"))[
                "total"
            ]
            or ZERO
        )
        order.committed_total = received
        order.closed_at = timezone.now()
        order.save(update_fields=["status", "committed_total", "closed_at"])
    purchase_order.status, purchase_order.committed_total = order.status, order.committed_total
    return order
