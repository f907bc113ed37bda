"""Disposals API: bulk sanitisation results from wipe tools, a device's custody chain
and its route (with the finance review of an override), and that review itself: a
finance or commercial officer signs an override of a suggested resale off or rejects it.

Scope: a device outside the caller's business-unit scope is treated as not found.
Answers that carry a commercial figure (the estimated value, for finance and
commercial roles) say so in ``classification`` and in the ``X-Classification`` header.
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import Role, can_see_commercial, has_role
from api.parsers import JSONParser
from core.exports import classification
from core.middleware import CLASSIFICATION_HEADER
from devices.api.serializers import ErrorSerializer
from devices.models import Device
from disposals import selectors, services
from disposals.api.serializers import (
    CustodySerializer,
    RouteOverrideRejectSerializer,
    RouteSerializer,
    SanitisationBatchInSerializer,
    SanitisationBatchOutSerializer,
    SanitisationBatchSchemaSerializer,
    SanitisationResultInSerializer,
)

WRITE_ROLES = (Role.ASSET_MANAGER, Role.INTEGRATION)
SIGN_OFF_ROLES = (Role.FINANCE, Role.COMMERCIAL)
READ_ROLES = (
    Role.ASSET_MANAGER,
    Role.FINANCE,
    Role.COMMERCIAL,
    Role.UNIT_VIEWER,
    Role.INTEGRATION,
)


class WriteRole(BasePermission):
    message = "Only asset managers and integration accounts may record sanitisation."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated) and has_role(
            request.user, *WRITE_ROLES
        )


class SignOffRole(BasePermission):
    message = "Only finance and commercial officers may sign off or reject a route override."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated) and has_role(
            request.user, *SIGN_OFF_ROLES
        )


def _err(description: str) -> OpenApiResponse:
    return OpenApiResponse(ErrorSerializer, description=description)


READ_ERRORS = {
    401: _err("Missing, expired or revoked token."),
    403: _err("Your role does not allow this."),
    404: _err("No such device in your business units."),
    429: _err("Rate limit reached; see Retry-After."),
}
WRITE_ERRORS = {
    **READ_ERRORS,
    400: _err(
        "Malformed body, invalid fields, or refused by the rule (`code`: role_not_allowed, "
        "same_person, wrong_step, out_of_scope, reason_required...)."
    ),
    415: _err("The body is not JSON."),
}


class ReadRole(BasePermission):
    message = "Your role does not allow this."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated) and has_role(
            request.user, *READ_ROLES
        )


def _resolve_devices(user, items: list[dict]) -> dict[int, Device]:
    """Map item index -> device in the caller's scope, in two queries at most
    (asset tags; serial numbers, matched to the maker case-insensitively)."""
    scoped = Device.objects.visible_to(user).select_related("manufacturer")
    tags = {i["asset_tag"].strip() for i in items if i.get("asset_tag")}
    serials = {
        i["serial_number"].strip()
        for i in items
        if not i.get("asset_tag") and i.get("serial_number")
    }
    by_tag = {d.asset_tag: d for d in scoped.filter(asset_tag__in=tags)} if tags else {}
    by_serial = {}
    if serials:
        for d in scoped.filter(serial_number__in=serials):
            by_serial[(d.manufacturer.name.casefold(), d.serial_number)] = d
    found = {}
    for index, item in enumerate(items):
        if item.get("asset_tag"):
            device = by_tag.get(item["asset_tag"].strip())
        else:
            key = (item.get("manufacturer", "").strip().casefold(), item["serial_number"].strip())
            device = by_serial.get(key)
        if device is not None:
            found[index] = device
    return found


class SanitisationResultsView(APIView):
    permission_classes = [WriteRole]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="disposals_sanitisation_results_create",
        summary="Record sanitisation results in bulk (wipe tools)",
        description=(
            "Up to 1,000 results. Each item names a device by asset_tag, or by "
            "serial_number with manufacturer. The same gates as the pages apply: the "
            "verifier differs from the operator, a device gets one result while it awaits "
            "sanitisation (a returned device has its case opened), a fail routes the device "
            "to physical destruction. Good items are kept; each bad item is reported with "
            "its errors by field. Devices outside your scope are reported as not found."
        ),
        request=SanitisationBatchSchemaSerializer,
        responses={
            200: SanitisationBatchOutSerializer,
            **{code: r for code, r in WRITE_ERRORS.items() if code != 404},
        },
        examples=[
            OpenApiExample(
                "One pass",
                request_only=True,
                value={
                    "results": [
                        {
                            "asset_tag": "MPS0001234",
                            "method": "crypto_erase",
                            "standard": "NIST SP 800-88 Purge",
                            "tool": "Blancco Drive Eraser",
                            "tool_version": "7.9.1",
                            "operator": "C1234 J. Smith",
                            "verifier": "C5678 A. Patel",
                            "performed_at": "2025-06-02T10:15:00Z",
                            "result": "pass",
                            "certificate_ref": "BL-2025-000981",
                        }
                    ]
                },
            )
        ],
    )
    def post(self, request):
        batch = SanitisationBatchInSerializer(data=request.data)
        batch.is_valid(raise_exception=True)
        raw_items = batch.validated_data["results"]
        outcome: list[dict] = []
        valid: list[tuple[int, dict]] = []
        for index, raw in enumerate(raw_items):
            item = SanitisationResultInSerializer(data=raw)
            label = (
                raw.get("asset_tag")
                or f"{raw.get('manufacturer', '')}:{raw.get('serial_number', '')}"
            )
            if item.is_valid():
                valid.append((index, item.validated_data))
                outcome.append({"index": index, "device": str(label), "ok": False})
            else:
                errors = {k: [str(m) for m in v] for k, v in item.errors.items()}
                outcome.append(_refused(index, label, errors))
        devices = _resolve_devices(request.user, [data for _, data in valid])
        inputs, positions = [], []
        for position, (index, data) in enumerate(valid):
            device = devices.get(position)
            if device is None:
                outcome[index] = _refused(
                    index, outcome[index]["device"], {"device": ["No such device in your scope."]}
                )
                continue
            inputs.append(
                services.SanitisationInput(
                    device_id=device.pk,
                    method=data["method"],
                    standard=data["standard"],
                    tool=data["tool"],
                    tool_version=data.get("tool_version", ""),
                    operator=data["operator"],
                    verifier=data["verifier"],
                    performed_at=data["performed_at"],
                    result=data["result"],
                    certificate_ref=data["certificate_ref"],
                    label=str(device),
                )
            )
            positions.append(index)
        if inputs:
            results = services.sanitisation_records_record(
                items=inputs, actor=request.user, source="api"
            )
            for index, res in zip(positions, results, strict=True):
                outcome[index] = {
                    "index": index,
                    "device": res.label,
                    "ok": res.ok,
                    "record_id": res.record_id,
                    "result": res.result,
                    "errors": res.errors,
                }
        recorded = sum(1 for o in outcome if o["ok"])
        body = {"recorded": recorded, "refused": len(outcome) - recorded, "results": outcome}
        return Response(SanitisationBatchOutSerializer(body).data)


def _refused(index, label, errors) -> dict:
    return {
        "index": index,
        "device": str(label),
        "ok": False,
        "record_id": None,
        "result": "",
        "errors": errors,
    }


def _user_name(user) -> str | None:
    return user.get_username() if user is not None else None


def _route_body(decision) -> dict | None:
    """A route decision as the API shows it: the suggestion and its reason, the
    route taken, and any override with its finance review (who asked, who signed
    off or rejected, when, why). Parts that do not apply are left out."""
    if decision is None:
        return None
    body = {
        "suggested_route": decision.suggested_route,
        "suggestion_reason": decision.suggestion_reason,
        # Until an override is decided, no route is taken: the case is still assessed.
        "route": None if decision.awaiting_sign_off else decision.final_route,
        "decided_at": decision.decided_at,
        "decided_by": _user_name(decision.decided_by),
    }
    if decision.overridden:
        review = decision.review
        if decision.awaiting_sign_off:
            status = "awaiting_sign_off"
        else:
            status = review.outcome if review else "not_needed"
        override = {
            "requested_route": decision.route,
            "reason": decision.override_reason,
            "requested_by": _user_name(decision.decided_by),
            "requested_at": decision.decided_at,
            "needs_sign_off": decision.needs_sign_off,
            "status": status,
        }
        if review is not None:
            override["review"] = {
                "outcome": review.outcome,
                "decided_by": _user_name(review.signed_off_by),
                "decided_as": review.signed_off_as,
                "decided_at": review.signed_off_at,
                "reason": review.reason,
            }
        body["override"] = override
    return body


def _without_none(body: dict, *keys: str) -> dict:
    """``body`` without the ``keys`` whose value is None (optional parts left out)."""
    return {k: v for k, v in body.items() if not (k in keys and v is None)}


def _marked(response: Response, mark: str) -> Response:
    response[CLASSIFICATION_HEADER] = mark
    return response


class DeviceCustodyView(APIView):
    permission_classes = [ReadRole]

    @extend_schema(
        operation_id="disposals_device_custody_retrieve",
        summary="A device's chain of custody",
        description=(
            "Every lifecycle event oldest first, with the disposal case, sanitisation "
            "records, assessment (estimated value only for commercial roles), route "
            "decision with any override and its finance sign-off or rejection, and "
            "consignment. Event details carry no commercial figures for other roles. "
            "404 outside your scope."
        ),
        responses={200: CustodySerializer, **READ_ERRORS},
    )
    def get(self, request, device_id: int):
        chain = selectors.custody_chain(user=request.user, device_id=device_id)
        commercial = can_see_commercial(request.user)
        device, case = chain["device"], chain["case"]
        assessment, decision = chain["assessment"], chain["route_decision"]
        consignment = chain["consignment"]
        mark = classification(commercial=commercial and assessment is not None)
        body = {
            "device": {
                "id": device.pk,
                "asset_tag": device.asset_tag,
                "serial_number": device.serial_number,
                "manufacturer": device.manufacturer.name,
                "model": device.device_model.name,
                "category": device.device_model.category,
                "business_unit": device.business_unit.code,
                "status": device.status,
            },
            "case": (
                {
                    "status": case.status,
                    "route": case.route,
                    "opened_at": case.opened_at,
                    "disposed_at": case.disposed_at,
                }
                if case
                else None
            ),
            "sanitisation_records": chain["sanitisation_records"],
            "assessment": (
                {
                    "grade": assessment.grade,
                    "assessed_at": assessment.assessed_at,
                    "assessed_by": assessment.assessed_by.get_username(),
                    "policy_destruction": assessment.policy_destruction,
                    **({"estimated_value": str(assessment.estimated_value)} if commercial else {}),
                }
                if assessment
                else None
            ),
            "route_decision": _route_body(decision),
            "consignment": (
                {
                    "reference": consignment.reference,
                    "route": consignment.route,
                    "partner": consignment.partner.name,
                    "status": consignment.status,
                    "dispatch_date": consignment.dispatch_date,
                    "collected_by": consignment.collected_by,
                    "transfer_note_ref": consignment.transfer_note_ref,
                    "certificate_received": bool(consignment.certificate),
                }
                if consignment
                else None
            ),
            "events": [
                {
                    "occurred_at": e.occurred_at,
                    "kind": e.kind,
                    "from_status": e.from_status,
                    "to_status": e.to_status,
                    "recorded_by": e.recorded_by.get_username() if e.recorded_by_id else None,
                    "source": e.source,
                    "details": e.details,
                }
                for e in chain["events"]
            ],
            "classification": mark,
        }
        body = _without_none(body, "route_decision")
        return _marked(Response(CustodySerializer(body).data), mark)


def _route_answer(request, device_id: int) -> Response:
    chain = selectors.custody_chain(user=request.user, device_id=device_id)
    commercial = can_see_commercial(request.user)
    case, assessment = chain["case"], chain["assessment"]
    shows_value = commercial and assessment is not None
    mark = classification(commercial=shows_value)
    body = {
        "device_id": chain["device"].pk,
        "case_status": case.status if case else None,
        "grade": assessment.grade if assessment else None,
        **({"estimated_value": str(assessment.estimated_value)} if shows_value else {}),
        "route_decision": _route_body(chain["route_decision"]),
        "classification": mark,
    }
    body = _without_none(body, "route_decision")
    return _marked(Response(RouteSerializer(body).data), mark)


def _case_id(request, device_id: int) -> int:
    """The device's case in the caller's scope, or 404 (out of scope, or no case)."""
    case = selectors.case_for_device(user=request.user, device_id=device_id)
    if case is None:
        raise Http404("No disposal case for this device in your business units.")
    return case.pk


class DeviceRouteView(APIView):
    permission_classes = [ReadRole]

    @extend_schema(
        operation_id="disposals_device_route_retrieve",
        summary="A device's disposal route and any override's finance review",
        description=(
            "The suggested route and its reason, the route taken, and an override of a "
            "suggested resale with who asked, why, and the finance or commercial officer "
            "who signed it off or rejected it (a rejected device keeps its suggested "
            "route). `route` is null while an override awaits its review. The estimated "
            "value only for finance and commercial roles. 404 outside your scope."
        ),
        responses={200: RouteSerializer, **READ_ERRORS},
    )
    def get(self, request, device_id: int):
        return _route_answer(request, device_id)


class RouteOverrideSignOffView(APIView):
    permission_classes = [SignOffRole]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="disposals_route_override_sign_off",
        summary="Sign off an override of a suggested resale",
        description=(
            "A finance or commercial officer other than the requester signs off the "
            "pending override of the device's suggested resale: the device takes the "
            "route asked for. Refused (400, with `code`) for the requester "
            "(`same_person`), when no override awaits a decision (`wrong_step`). "
            "Answers the route as GET /route/ does. No body is needed."
        ),
        request=None,
        responses={200: RouteSerializer, **WRITE_ERRORS},
    )
    def post(self, request, device_id: int):
        case_id = _case_id(request, device_id)
        services.route_overrides_sign_off(case_ids=[case_id], approver=request.user, source="api")
        return _route_answer(request, device_id)


class RouteOverrideRejectView(APIView):
    permission_classes = [SignOffRole]
    parser_classes = [JSONParser]

    @extend_schema(
        operation_id="disposals_route_override_reject",
        summary="Reject an override of a suggested resale",
        description=(
            "A finance or commercial officer other than the requester rejects the pending "
            "override of the device's suggested resale, giving a reason: the device keeps "
            "its suggested route. Refused (400, with `code`) without a reason "
            "(`reason_required`), for the requester (`same_person`), when no override "
            "awaits a decision (`wrong_step`). Answers the route as GET /route/ does."
        ),
        request=RouteOverrideRejectSerializer,
        responses={200: RouteSerializer, **WRITE_ERRORS},
        examples=[
            OpenApiExample(
                "Keep it for resale",
                request_only=True,
                value={"reason": "Resale value outweighs the pledge; find another laptop."},
            )
        ],
    )
    def post(self, request, device_id: int):
        case_id = _case_id(request, device_id)
        data = RouteOverrideRejectSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.route_overrides_reject(
            case_ids=[case_id],
            approver=request.user,
            reason=data.validated_data["reason"],
            source="api",
        )
        return _route_answer(request, device_id)
