"""Procurement against the capital envelope.

The business case asks for £46.763m of capital over FY 2025/26 and 2026/27
(recommendation "Approve capital spend"), delegates the management of that spend
to a finance owner, lets the Commercial Director award new contracts up to £25m
and 4 years, and names two thresholds: the procurement regulations (£213,477
incl. VAT) and the Deputy Mayor's approval / call-in (£500,000). These models
hold those numbers as data (with effective dates where they change) and the
orders placed against them.

Money: every amount is a Decimal in pounds with two places. Purchase-order lines
are priced net; VAT is worked out per line and rounded to the penny with
ROUND_HALF_UP (see ``PurchaseOrderLine.compute_totals``); the envelope, the
thresholds and every commitment are measured in *gross* (incl. VAT) pounds, as
the business case states the regulations threshold incl. VAT.

Scope: a purchase order belongs to the business unit its devices are for; its
lines, approval records, receipts and received devices reach that unit through
the order (each model's ``objects.visible_to(user)``). The envelope, budget lines,
transfers, thresholds, approval authorities, contracts and suppliers are the
organisation's, not any unit's, and are not unit-scoped.

The models live in one module per idea (``common``, ``envelope``, ``rules``,
``contracts``, ``orders``, ``receipts``); every name is importable from
``procurement.models`` as before.
"""

from procurement.models.common import (
    NEW_CONTRACT_TERM_CAP_MONTHS,
    NEW_CONTRACT_VALUE_CAP,
    PAPER_FUNDED_CATEGORIES,
    PENNY,
    ROLE_CHOICES,
    default_funded_categories,
    money,
    validate_financial_year_label,
    validate_funded_categories,
)
from procurement.models.contracts import Contract, ContractAward, Supplier
from procurement.models.envelope import BudgetLine, BudgetTransfer, CapitalEnvelope
from procurement.models.orders import (
    ALLOWED_TRANSITIONS,
    COMMITTED_STATUSES,
    ApprovalRecord,
    PurchaseOrder,
    PurchaseOrderLine,
)
from procurement.models.receipts import Receipt, ReceivedDevice
from procurement.models.rules import ApprovalAuthority, ProcurementThreshold

__all__ = [
    "ALLOWED_TRANSITIONS",
    "COMMITTED_STATUSES",
    "NEW_CONTRACT_TERM_CAP_MONTHS",
    "NEW_CONTRACT_VALUE_CAP",
    "PAPER_FUNDED_CATEGORIES",
    "PENNY",
    "ROLE_CHOICES",
    "ApprovalAuthority",
    "ApprovalRecord",
    "BudgetLine",
    "BudgetTransfer",
    "CapitalEnvelope",
    "Contract",
    "ContractAward",
    "ProcurementThreshold",
    "PurchaseOrder",
    "PurchaseOrderLine",
    "Receipt",
    "ReceivedDevice",
    "Supplier",
    "default_funded_categories",
    "money",
    "validate_financial_year_label",
    "validate_funded_categories",
]
