"""Disposals API: bulk sanitisation results from wipe tools, and a device's custody chain.

Scope: a device outside the caller's business-unit scope is treated as not found.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import Role, can_see_commercial, has_role
from core.exports import classification
from devices.models import Device
from disposals import selectors, services
from disposals.api.serializers import (
    CustodySerializer,
    SanitisationBatchInSerializer,
    SanitisationBatchOutSerializer,
    SanitisationBatchSchemaSerializer,
    SanitisationResultInSerializer,
)

WRITE_ROLES = (Role.ASSET_MANAGER, Role.INTEGRATION)
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
        responses={200: SanitisationBatchOutSerializer},
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


class DeviceCustodyView(APIView):
    permission_classes = [ReadRole]

    @extend_schema(
        operation_id="disposals_device_custody_retrieve",
        summary="A device's chain of custody",
        description=(
            "Every lifecycle event oldest first, with the disposal case, sanitisation "
            "records, assessment (estimated value only for commercial roles), route "
            "decision and consignment. 404 outside your scope."
        ),
        responses={200: CustodySerializer},
    )
    def get(self, request, device_id: int):
        chain = selectors.custody_chain(user=request.user, device_id=device_id)
        commercial = can_see_commercial(request.user)
        device, case = chain["device"], chain["case"]
        assessment, decision = chain["assessment"], chain["route_decision"]
        consignment = chain["consignment"]
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
            "route_decision": (
                {
                    "suggested_route": decision.suggested_route,
                    "suggestion_reason": decision.suggestion_reason,
                    "route": decision.route,
                    "override_reason": decision.override_reason,
                    "decided_at": decision.decided_at,
                    "decided_by": decision.decided_by.get_username()
                    if decision.decided_by
                    else None,
                }
                if decision
                else None
            ),
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
            "classification": classification(commercial=commercial and assessment is not None),
        }
        return Response(CustodySerializer(body).data)
