"""Writes for procurement: the envelope and its lines, contracts, purchase orders,
approvals and receipts.

Lock order, everywhere: the envelope row, then budget lines (in pk order), then
the contract, then the purchase order, then its lines. Every service that guards the envelope's
invariant follows it, so two of them can wait on each other but never deadlock.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone

from accounts.roles import Role, has_role, user_roles
from core.errors import DomainError
from core.financial_year import LONDON
from devices.services import devices_receive_into_stock
from procurement.models import (
    ALLOWED_TRANSITIONS,
    COMMITTED_STATUSES,
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
    money,
)

ZERO = Decimal("0.00")


def _today() -> dt.date:
    return timezone.now().astimezone(LONDON).date()


def gbp(value: Decimal) -> str:
    return f"£{value:,.2f}"


def _add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    # 29 February plus whole years lands on 28 February.
    for last in (31, 30, 29, 28):
        try:
            return dt.date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


# --- the envelope and its lines -------------------------------------------------


def _committed_on(*, budget_line_ids: Iterable[int]) -> Decimal:
    """What approved-and-later orders hold against these lines, read now."""
    total = PurchaseOrder.objects.filter(
        budget_line_id__in=list(budget_line_ids), status__in=COMMITTED_STATUSES
    ).aggregate(total=Sum("committed_total"))["total"]
    return total or ZERO


def capital_envelope_create(
    *,
    name: str,
    total: Decimal,
    decision_reference: str,
    owner=None,
    owner_role: str = Role.FINANCE.value,
    description: str = "",
) -> CapitalEnvelope:
    """Record the approved capital envelope (the business case's £46.763m)."""
    envelope = CapitalEnvelope(
        name=name,
        total=total,
        decision_reference=decision_reference,
        owner=owner,
        owner_role=owner_role,
        description=description,
    )
    with transaction.atomic():
        envelope.full_clean()
        envelope.save()
    return envelope


def budget_line_create(
    *, envelope: CapitalEnvelope, financial_year: str, category: str, amount: Decimal
) -> BudgetLine:
    """Add a line to the envelope. The lines may never add up to more than the total
    (the business case's "within the overall costs outlined in this paper")."""
    with transaction.atomic():
        # Lock the envelope so two lines added at once cannot both fit alone.
        envelope = CapitalEnvelope.objects.select_for_update().get(pk=envelope.pk)
        line = BudgetLine(
            envelope=envelope, financial_year=financial_year, category=category, amount=amount
        )
        line.full_clean()
        allocated = envelope.budget_lines.aggregate(total=Sum("amount"))["total"] or ZERO
        if allocated + amount > envelope.total:
            raise DomainError(
                f"The lines would total {gbp(allocated + amount)}, "
                f"{gbp(allocated + amount - envelope.total)} more than the envelope's "
                f"{gbp(envelope.total)}.",
                field="amount",
                code="envelope_exceeded",
            )
        line.save()
    return line


def may_manage_envelope(*, envelope: CapitalEnvelope, user) -> bool:
    """The envelope's owner, or a holder of its owner role (the delegated authority
    to "manage the Capital spend")."""
    if not getattr(user, "is_authenticated", False):
        return False
    if envelope.owner_id and envelope.owner_id == user.pk:
        return True
    return any(role.value == envelope.owner_role for role in user_roles(user))


def budget_transfer_make(
    *, from_line: BudgetLine, to_line: BudgetLine, amount: Decimal, reason: str, made_by
) -> BudgetTransfer:
    """Move money between two lines of one envelope, recorded.

    Only the envelope's owner (or its owner role) may do it. The total is
    unchanged by construction; a line may not give away money already committed
    against it.
    """
    if amount is None or amount <= 0:
        raise DomainError("Move a positive amount.", field="amount")
    if from_line.pk == to_line.pk:
        raise DomainError("Choose two different lines.", field="to_line")
    if from_line.envelope_id != to_line.envelope_id:
        raise DomainError("Both lines must belong to the same envelope.", field="to_line")
    if not (reason or "").strip():
        raise DomainError("Give a reason for the transfer.", field="reason")
    with transaction.atomic():
        envelope = CapitalEnvelope.objects.select_for_update().get(pk=from_line.envelope_id)
        if not may_manage_envelope(envelope=envelope, user=made_by):
            raise DomainError(
                f"Only the envelope owner ({envelope.owner_role}) may move money between lines.",
                code="permission_denied",
            )
        # Both lines in pk order, after the envelope: the house lock order.
        lines = {
            line.pk: line
            for line in BudgetLine.objects.select_for_update()
            .filter(pk__in=[from_line.pk, to_line.pk])
            .order_by("pk")
        }
        source, target = lines[from_line.pk], lines[to_line.pk]
        committed = _committed_on(budget_line_ids=[source.pk])
        if source.amount - amount < committed:
            raise DomainError(
                f"The {source.financial_year} {source.category} line has "
                f"{gbp(source.amount - committed)} uncommitted; moving {gbp(amount)} would "
                f"leave it {gbp(committed - (source.amount - amount))} short of its commitments.",
                field="amount",
                code="line_overcommitted",
            )
        source.amount -= amount
        target.amount += amount
        source.full_clean()
        target.full_clean()
        source.save(update_fields=["amount"])
        target.save(update_fields=["amount"])
        transfer = BudgetTransfer(
            envelope=envelope,
            from_line=source,
            to_line=target,
            amount=amount,
            reason=reason.strip(),
            made_by=made_by,
            made_at=timezone.now(),
        )
        transfer.full_clean()
        transfer.save()
    from_line.amount, to_line.amount = source.amount, target.amount
    return transfer


# --- thresholds and contracts --------------------------------------------------


def threshold_in_force(*, kind: str, on_date: dt.date) -> ProcurementThreshold | None:
    """The threshold of a kind in force on a day: the latest effective on or before it."""
    return (
        ProcurementThreshold.objects.filter(kind=kind, effective_from__lte=on_date)
        .order_by("-effective_from")
        .first()
    )


def threshold_create(
    *, kind: str, amount: Decimal, effective_from: dt.date, source: str = ""
) -> ProcurementThreshold:
    threshold = ProcurementThreshold(
        kind=kind, amount=amount, effective_from=effective_from, source=source
    )
    with transaction.atomic():
        threshold.full_clean()
        threshold.save()
    return threshold


def approval_authority_set(
    *, role: str, limit: Decimal | None, effective_from: dt.date
) -> ApprovalAuthority:
    authority = ApprovalAuthority(role=role, limit=limit, effective_from=effective_from)
    with transaction.atomic():
        authority.full_clean()
        authority.save()
    return authority


def approval_limit_for(*, user, on_date: dt.date) -> tuple[bool, Decimal | None]:
    """(may approve at all, the highest limit; None = no limit) for the user's roles
    on a day, from the ``ApprovalAuthority`` rows in force."""
    roles = {role.value for role in user_roles(user)}
    if getattr(user, "is_superuser", False):
        roles = {role.value for role in Role}
    best: Decimal | None = ZERO
    found = False
    for role in sorted(roles):
        row = (
            ApprovalAuthority.objects.filter(role=role, effective_from__lte=on_date)
            .order_by("-effective_from")
            .first()
        )
        if row is None:
            continue
        found = True
        if row.limit is None:
            return True, None
        best = max(best, row.limit)
    return found, best if found else None


def contract_create(
    *,
    envelope: CapitalEnvelope,
    supplier,
    reference: str,
    title: str,
    route: str,
    value_ceiling: Decimal,
    start_date: dt.date,
    end_date: dt.date,
    framework_name: str = "",
    framework_reference: str = "",
    ordering_process_followed: bool = False,
    created_by=None,
) -> Contract:
    """Record a contract. New contracts under this authority may total at most the
    envelope's ``new_contract_limit`` (£25m) and last at most
    ``new_contract_max_term_months`` (4 years): the Commercial Director's delegation
    in the business case. A call-off names its framework."""
    contract = Contract(
        envelope=envelope,
        supplier=supplier,
        reference=reference.strip(),
        title=title.strip(),
        route=route,
        value_ceiling=value_ceiling,
        start_date=start_date,
        end_date=end_date,
        framework_name=framework_name.strip(),
        framework_reference=framework_reference.strip(),
        ordering_process_followed=ordering_process_followed,
        created_by=created_by,
    )
    if route == Contract.Route.CALL_OFF and not contract.framework_name:
        raise DomainError(
            "A call-off must name the framework or contract it calls off.",
            field="framework_name",
        )
    with transaction.atomic():
        # Lock the envelope so two new contracts cannot both fit under £25m alone.
        envelope = CapitalEnvelope.objects.select_for_update().get(pk=envelope.pk)
        contract.envelope = envelope
        contract.full_clean()
        if route == Contract.Route.NEW_CONTRACT:
            latest_end = _add_months(start_date, envelope.new_contract_max_term_months)
            latest_end -= dt.timedelta(days=1)
            if end_date > latest_end:
                raise DomainError(
                    f"A new contract may last at most {envelope.new_contract_max_term_months} "
                    f"months: it must end by {latest_end:%d %B %Y}, "
                    f"{(end_date - latest_end).days} days before {end_date:%d %B %Y}.",
                    field="end_date",
                    code="term_exceeded",
                )
            awarded = (
                envelope.contracts.filter(route=Contract.Route.NEW_CONTRACT).aggregate(
                    total=Sum("value_ceiling")
                )["total"]
                or ZERO
            )
            if awarded + value_ceiling > envelope.new_contract_limit:
                raise DomainError(
                    f"New contracts under this authority would total "
                    f"{gbp(awarded + value_ceiling)}, "
                    f"{gbp(awarded + value_ceiling - envelope.new_contract_limit)} over the "
                    f"{gbp(envelope.new_contract_limit)} limit.",
                    field="value_ceiling",
                    code="contract_limit_exceeded",
                )
        contract.save()
    return contract


# --- purchase orders -----------------------------------------------------------


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
    contract must be with the order's supplier. Totals are worked out per line."""
    if contract is not None and contract.supplier_id != supplier.pk:
        raise DomainError(
            f"Contract {contract.reference} is with {contract.supplier}, not {supplier}.",
            field="contract",
        )
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
    a submitted order goes back to draft first, so nobody approves a moving target;
    approval records made for the old value are removed."""
    with transaction.atomic():
        order = _lock_order(purchase_order)
        if order.status != PurchaseOrder.Status.DRAFT:
            raise DomainError(
                f"{order} is {order.get_status_display().lower()}: only a draft can be changed.",
                field="lines",
            )
        built = _build_lines(budget_line=order.budget_line, lines=lines)
        # Approvals recorded against the old value no longer speak for the new one.
        order.approval_records.all().delete()
        order.lines.all().delete()
        _save_lines(order, built)
        _apply_totals(order, built)
        order.full_clean()
        order.save(update_fields=["net_total", "vat_total", "gross_total"])
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
        if order.approval_records.filter(kind=kind).exists():
            raise DomainError(f"{order} already has that approval recorded.", field="kind")
        record = ApprovalRecord(
            purchase_order=order,
            kind=kind,
            reference=(reference or "").strip(),
            note=note,
            recorded_by=recorded_by,
            recorded_at=timezone.now(),
        )
        record.full_clean()
        record.save()
    return record


def approval_requirements(*, purchase_order: PurchaseOrder, on_date: dt.date) -> list[str]:
    """What is missing before this order may be approved on ``on_date``, by the
    thresholds in force that day (empty when nothing is missing).

    - At or above the procurement-regulations threshold (£213,477 incl. VAT in the
      business case), the award needs a compliant route: a contract that is a new
      contract or a call-off whose framework ordering process was followed, and a
      commercial officer's confirmation record.
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
    kinds = set(purchase_order.approval_records.values_list("kind", flat=True))
    if gross >= regulations.amount:
        contract = purchase_order.contract
        if contract is None or not contract.is_compliant_route:
            missing.append(
                f"At {gbp(gross)} the order is at or above the procurement-regulations "
                f"threshold of {gbp(regulations.amount)}: it needs a contract on a compliant "
                "route (a new contract, or a call-off following the framework's ordering "
                "process)."
            )
        if ApprovalRecord.Kind.COMPLIANT_ROUTE not in kinds:
            missing.append(
                f"At {gbp(gross)} (threshold {gbp(regulations.amount)}) a commercial "
                "officer must confirm the compliant route."
            )
    if gross >= deputy_mayor.amount and ApprovalRecord.Kind.DMPC not in kinds:
        missing.append(
            f"At {gbp(gross)} the order is at or above {gbp(deputy_mayor.amount)}: record "
            "the DMPC approval / no call-in first."
        )
    return missing


def purchase_order_approve(
    *, purchase_order: PurchaseOrder, approved_by, on_date: dt.date | None = None
) -> PurchaseOrder:
    """Approve a submitted order, committing its gross value against its budget line
    and the envelope.

    Rules: the approver holds a role whose delegated limit in force covers the
    gross value and did not raise the order; the thresholds in force on the
    approval date decide which approval records must exist; the contract is in
    force that day and its ceiling is not exceeded; and the committed total may
    never exceed the line or the envelope ("Commitments may never exceed it, even
    under concurrent approvals").
    """
    on_date = on_date or _today()
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
        # The contract's ceiling is guarded the same way; its row comes after the
        # line in the lock order (orders on one contract may span several lines).
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
                "The person who raised an order cannot approve it.", code="permission_denied"
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
        if contract is not None and not contract.in_force_on(on_date):
            raise DomainError(
                f"Contract {contract.reference} is not in force on {on_date:%d %B %Y}.",
                field="contract",
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


def purchase_order_return_to_draft(*, purchase_order: PurchaseOrder, actor) -> PurchaseOrder:
    with transaction.atomic():
        order = _lock_order(purchase_order)
        _set_status(order=order, to_status=PurchaseOrder.Status.DRAFT)
        order.save(update_fields=["status"])
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


def purchase_order_cancel(*, purchase_order: PurchaseOrder, actor) -> PurchaseOrder:
    """Cancel an order not yet received; it releases its commitment."""
    with transaction.atomic():
        order = _lock_order(purchase_order)
        _set_status(order=order, to_status=PurchaseOrder.Status.CANCELLED)
        order.committed_total = ZERO
        order.cancelled_at = timezone.now()
        order.save(update_fields=["status", "committed_total", "cancelled_at"])
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


# --- receipts ------------------------------------------------------------------


def serials_from_text(text: str) -> list[str]:
    """Serial numbers pasted one per line (blank lines ignored)."""
    return [s.strip() for s in (text or "").splitlines() if s.strip()]


def serials_from_upload(data: bytes) -> list[str]:
    """Serial numbers from an uploaded CSV or TXT: the first column of each row; a
    first row reading "serial..." is a header and skipped."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
    rows = [row for row in csv.reader(io.StringIO(text)) if row and row[0].strip()]
    serials = [row[0].strip() for row in rows]
    if serials and serials[0].lower().startswith("serial"):
        serials = serials[1:]
    return serials


def purchase_order_receive(
    *,
    line: PurchaseOrderLine,
    serial_numbers: list[str],
    received_by,
    received_on: dt.date | None = None,
    warranty_years: int = 3,
) -> Receipt:
    """Receive devices against an order line: each serial becomes a device in the
    unit's stock, costed at the line's unit price incl. VAT, linked to the line.

    Receiving more than ordered is refused (the line is locked so two receipts at
    once cannot both fit). The order moves to partly received or received.
    """
    received_on = received_on or _today()
    if received_on > _today():
        raise DomainError("Goods cannot be received on a future date.", field="received_on")
    serials = [s.strip() for s in serial_numbers if s and s.strip()]
    if not serials:
        raise DomainError("Give at least one serial number.", field="serial_numbers")
    with transaction.atomic():
        # Order row then its line, the house lock order (no envelope change here:
        # receipts spend an existing commitment, they never add to it).
        order = PurchaseOrder.objects.select_for_update().get(pk=line.purchase_order_id)
        locked = (
            PurchaseOrderLine.objects.select_for_update()
            .select_related("device_model")
            .get(pk=line.pk)
        )
        if order.status not in (PurchaseOrder.Status.ORDERED, PurchaseOrder.Status.PARTLY_RECEIVED):
            raise DomainError(
                f"{order} is {order.get_status_display().lower()}: only ordered goods can be "
                "received.",
                field="status",
            )
        already = locked.receipts.aggregate(n=Sum("quantity"), v=Sum("value"))
        already_qty, already_value = already["n"] or 0, already["v"] or ZERO
        outstanding = locked.quantity - already_qty
        if len(serials) > outstanding:
            raise DomainError(
                f"Line {locked.device_model} has {outstanding} of {locked.quantity} still to "
                f"receive; {len(serials)} serial numbers would receive "
                f"{len(serials) - outstanding} more than ordered.",
                field="serial_numbers",
                code="over_receipt",
            )
        completes = len(serials) == outstanding
        # The receipt completing a line takes the rest of the line's gross, so the
        # pennies lost to per-unit rounding are not lost from the actuals.
        value = (
            locked.gross_total - already_value if completes else locked.unit_gross * len(serials)
        )
        devices = devices_receive_into_stock(
            device_model=locked.device_model,
            business_unit=order.business_unit,
            serial_numbers=serials,
            purchase_cost=locked.unit_gross,
            purchase_date=received_on,
            warranty_expires=_add_months(received_on, 12 * warranty_years),
            actor=received_by,
            source=f"procurement:{order.reference}",
            details={"purchase_order": order.reference, "purchase_order_line": locked.pk},
        )
        receipt = Receipt(
            line=locked,
            quantity=len(serials),
            value=money(value),
            received_on=received_on,
            received_by=received_by,
            recorded_at=timezone.now(),
        )
        receipt.full_clean()
        receipt.save()
        ReceivedDevice.objects.bulk_create(
            ReceivedDevice(receipt=receipt, line=locked, device=device) for device in devices
        )
        # Is the whole order in? One aggregate over its lines.
        totals = order.lines.aggregate(ordered=Sum("quantity"), lines=Count("id", distinct=True))
        received_qty = (
            Receipt.objects.filter(line__purchase_order=order).aggregate(n=Sum("quantity"))["n"]
            or 0
        )
        target = (
            PurchaseOrder.Status.RECEIVED
            if received_qty >= totals["ordered"]
            else PurchaseOrder.Status.PARTLY_RECEIVED
        )
        if target != order.status:
            _set_status(order=order, to_status=target)
            order.save(update_fields=["status"])
    line.purchase_order.status = order.status
    return receipt
