"""The capital envelope, its budget lines and the transfers between them.

Lock order, everywhere in procurement's services: the envelope row, then budget
lines (in pk order), then the supplier, then the contract, then the purchase order,
then its lines.
Every service that guards the envelope's invariant follows it, so two of them can
wait on each other but never deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.roles import Role, user_roles
from core.errors import DomainError
from devices.models import Category
from procurement.models import (
    COMMITTED_STATUSES,
    BudgetLine,
    BudgetTransfer,
    CapitalEnvelope,
    PurchaseOrder,
    default_funded_categories,
)
from procurement.services.common import ZERO, gbp


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
    funded_categories: list[str] | None = None,
) -> CapitalEnvelope:
    """Record the approved capital envelope (the business case's £46.763m) and the
    categories it funds (by default the paper's: laptops, desktops, monitors and
    smartphones)."""
    envelope = CapitalEnvelope(
        name=name,
        total=total,
        decision_reference=decision_reference,
        owner=owner,
        owner_role=owner_role,
        description=description,
        funded_categories=(
            list(funded_categories)
            if funded_categories is not None
            else default_funded_categories()
        ),
    )
    with transaction.atomic():
        envelope.full_clean()
        envelope.save()
    return envelope


def budget_line_create(
    *, envelope: CapitalEnvelope, financial_year: str, category: str, amount: Decimal
) -> BudgetLine:
    """Add a line to the envelope. The lines may never add up to more than the total
    (the business case's "within the overall costs outlined in this paper"), and a
    line is only for a category the envelope funds (its scope is data:
    ``CapitalEnvelope.funded_categories``)."""
    with transaction.atomic():
        # Lock the envelope so two lines added at once cannot both fit alone.
        envelope = CapitalEnvelope.objects.select_for_update().get(pk=envelope.pk)
        if category not in envelope.funded_categories:
            funded = ", ".join(Category(c).label.lower() for c in envelope.funded_categories)
            raise DomainError(
                f"The envelope funds {funded}; it has no line for {category}. Demand of other "
                "categories is shown apart and never counted against it.",
                field="category",
                code="category_not_funded",
            )
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
