"""Disposal pages. Thin: each view checks the role, asks a selector or calls a
service, and renders. Scope is applied by the selectors, through the models'
``visible_to`` (out of scope is a 404). One module per page family:

* ``board``: the asset managers' queues and their bulk actions;
* ``consignments``: consignments, dispatch, the partner's certificate, closing;
* ``custody``: a device's chain of custody (page and PDF), finding a device;
* ``sign_offs``: finance or commercial review of overrides of a suggested resale;
* ``summary``: disposals by financial year (page and CSV) and the residual-value rule.
"""

from disposals.views.board import board, board_bulk
from disposals.views.consignments import (
    consignment_certificate,
    consignment_close,
    consignment_create,
    consignment_custody_pdf,
    consignment_detail,
    consignment_dispatch,
    consignment_list,
    consignment_partner_certificate,
)
from disposals.views.custody import device_custody, device_custody_pdf, device_lookup
from disposals.views.sign_offs import route_sign_offs
from disposals.views.summary import summary, value_rule

__all__ = [
    "board",
    "board_bulk",
    "consignment_certificate",
    "consignment_close",
    "consignment_create",
    "consignment_custody_pdf",
    "consignment_detail",
    "consignment_dispatch",
    "consignment_list",
    "consignment_partner_certificate",
    "device_custody",
    "device_custody_pdf",
    "device_lookup",
    "route_sign_offs",
    "summary",
    "value_rule",
]
