"""Writes for procurement: the envelope and its lines (``envelope``), thresholds,
approval authorities and contracts (``contracts``), purchase orders and their
approval (``orders``) and receipts (``receipts``). Callers use
``from procurement import services`` and ``services.x(...)``.

Lock order, everywhere: the envelope row, then budget lines (in pk order), then
the supplier, then the contract, then the purchase order, then its lines. Every service that guards
the envelope's invariant follows it, so two of them can wait on each other but
never deadlock.
"""

from procurement.services.common import ZERO, add_months, gbp, london_today
from procurement.services.contracts import (
    DEFAULT_APPROVAL_AUTHORITIES,
    approval_authorities_default_ensure,
    approval_authority_set,
    approval_limit_for,
    contract_award_record,
    contract_create,
    threshold_create,
    threshold_in_force,
)
from procurement.services.envelope import (
    _committed_on,
    budget_line_create,
    budget_transfer_make,
    capital_envelope_create,
    may_manage_envelope,
)
from procurement.services.orders import (
    approval_record_add,
    approval_requirements,
    award_value,
    purchase_order_approve,
    purchase_order_cancel,
    purchase_order_close,
    purchase_order_create,
    purchase_order_lines_replace,
    purchase_order_mark_ordered,
    purchase_order_return_to_draft,
    purchase_order_submit,
)
from procurement.services.receipts import (
    purchase_order_receive,
    serials_from_text,
    serials_from_upload,
)

__all__ = [
    "DEFAULT_APPROVAL_AUTHORITIES",
    "ZERO",
    "_committed_on",
    "add_months",
    "approval_authorities_default_ensure",
    "approval_authority_set",
    "approval_limit_for",
    "approval_record_add",
    "approval_requirements",
    "award_value",
    "budget_line_create",
    "budget_transfer_make",
    "capital_envelope_create",
    "contract_award_record",
    "contract_create",
    "gbp",
    "london_today",
    "may_manage_envelope",
    "purchase_order_approve",
    "purchase_order_cancel",
    "purchase_order_close",
    "purchase_order_create",
    "purchase_order_lines_replace",
    "purchase_order_mark_ordered",
    "purchase_order_receive",
    "purchase_order_return_to_draft",
    "purchase_order_submit",
    "serials_from_text",
    "serials_from_upload",
    "threshold_create",
    "threshold_in_force",
]
