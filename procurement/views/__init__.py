"""Procurement pages. Thin: each view checks the role, asks a selector or calls a
service, and renders. Commercial figures only reach the template when
``can_see_commercial``; such pages are marked OFFICIAL-SENSITIVE [COMMERCIAL].

One module per page family: ``envelope`` (the envelope page, its exports, scenarios,
budget lines), ``contracts``, ``orders`` (list, page, raise, change lines) and
``order_actions`` (submit, approve, return, cancel, receive...).
"""

from procurement.views.contracts import contract_create, contract_detail, contract_list
from procurement.views.envelope import (
    budget_line_list,
    dashboard,
    dashboard_export,
    dashboard_export_csv,
    scenario_envelope,
)
from procurement.views.order_actions import (
    approval_record_add,
    purchase_order_approve,
    purchase_order_cancel,
    purchase_order_close,
    purchase_order_mark_ordered,
    purchase_order_receive,
    purchase_order_return_to_draft,
    purchase_order_submit,
)
from procurement.views.orders import (
    purchase_order_create,
    purchase_order_detail,
    purchase_order_edit,
    purchase_order_list,
)

__all__ = [
    "approval_record_add",
    "budget_line_list",
    "contract_create",
    "contract_detail",
    "contract_list",
    "dashboard",
    "dashboard_export",
    "dashboard_export_csv",
    "purchase_order_approve",
    "purchase_order_cancel",
    "purchase_order_close",
    "purchase_order_create",
    "purchase_order_detail",
    "purchase_order_edit",
    "purchase_order_list",
    "purchase_order_mark_ordered",
    "purchase_order_receive",
    "purchase_order_return_to_draft",
    "purchase_order_submit",
    "scenario_envelope",
]
