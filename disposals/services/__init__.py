"""Writes for disposals. The pages, the API, the admin and the demo all call these,
as ``services.x(...)``; each step of the journey has its own module:

* ``cases``: a returned device enters disposal (its case is opened);
* ``sanitisation``: the wipe result, the gate before anything else: nothing is
  assessed, routed or dispatched without a passing sanitisation record;
* ``value_and_routes``: residual value is assessed before the route is chosen;
  resale where there is value, reuse for digital inclusion where the grade allows,
  WEEE recycling otherwise, destruction after a failed wipe or where policy says;
  overriding a suggested resale waits for a finance or commercial officer;
* ``overrides``: that officer signs the override off or rejects it (the device
  then keeps its suggested resale);
* ``consignments``: batches to approved partners, dispatch, the partner's
  certificate (checked as a real file by ``certificates``), and closing (the
  devices are disposed);
* ``custody``: what every step shares: the case status mover, the device moves and
  the events written to the device's timeline, locks and gates.

Disposal records are never deleted (see ``disposals.models``).
"""

from disposals.services.cases import OPENABLE_DEVICE_STATUSES, disposal_cases_open
from disposals.services.certificates import (
    CERTIFICATE_MAX_PIXELS,
    CERTIFICATE_SIGNATURES,
    CheckedCertificate,
    certificate_check,
    certificate_content_type,
    certificate_max_bytes,
)
from disposals.services.consignments import (
    consignment_add_cases,
    consignment_certificate_upload,
    consignment_close,
    consignment_create,
    consignment_dispatch,
    consignment_remove_cases,
    partner_save,
)
from disposals.services.custody import (
    PENNY,
    RETENTION_YEARS,
    CaseStatus,
    case_transition,
    cases_transition,
)
from disposals.services.overrides import (
    SIGN_OFF_ROLES,
    route_override_reject,
    route_override_sign_off,
    route_overrides_reject,
    route_overrides_sign_off,
)
from disposals.services.sanitisation import (
    ItemResult,
    SanitisationInput,
    sanitisation_records_record,
)
from disposals.services.value_and_routes import (
    assessments_record,
    residual_value_estimate,
    residual_value_rule_create,
    residual_value_rule_current,
    route_suggest,
    routes_decide,
)

__all__ = [
    "CERTIFICATE_MAX_PIXELS",
    "CERTIFICATE_SIGNATURES",
    "SIGN_OFF_ROLES",
    "CheckedCertificate",
    "certificate_check",
    "certificate_max_bytes",
    "OPENABLE_DEVICE_STATUSES",
    "PENNY",
    "RETENTION_YEARS",
    "CaseStatus",
    "ItemResult",
    "SanitisationInput",
    "assessments_record",
    "case_transition",
    "cases_transition",
    "certificate_content_type",
    "consignment_add_cases",
    "consignment_certificate_upload",
    "consignment_close",
    "consignment_create",
    "consignment_dispatch",
    "consignment_remove_cases",
    "disposal_cases_open",
    "partner_save",
    "residual_value_estimate",
    "residual_value_rule_create",
    "residual_value_rule_current",
    "route_override_reject",
    "route_override_sign_off",
    "route_overrides_reject",
    "route_overrides_sign_off",
    "route_suggest",
    "routes_decide",
    "sanitisation_records_record",
]
