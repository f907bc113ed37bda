"""The procurement API: thin views over procurement.selectors and services.

Reads: the envelope position and budget lines (commercial roles only), contracts
and purchase orders (procurement roles; money fields only for commercial roles;
orders within the caller's unit scope). Writes: create and submit an order,
record approvals (commercial roles), approve (role-checked by the service's
delegated limits and thresholds).
"""

from __future__ import annotations

import datetime as dt

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import BusinessUnit
from accounts.roles import Role, can_see_commercial, has_role
from core.exports import OFFICIAL_SENSITIVE_COMMERCIAL
from core.financial_year import FinancialYear
from devices.models import DeviceModel
from procurement import selectors, services
from procurement.api import serializers as s
from procurement.models import BudgetLine, Contract, PurchaseOrder, Supplier

PROCUREMENT_ROLES = (Role.FINANCE, Role.COMMERCIAL, Role.ASSET_MANAGER)


class ProcurementReader(BasePermission):
    message = "Procurement data is for finance, commercial and asset-management roles."

    def has_permission(self, request, view):
        return has_role(request.user, *PROCUREMENT_ROLES)


class CommercialOnly(BasePermission):
    message = "Commercial figures are for finance and commercial officers only."

    def has_permission(self, request, view):
        return can_see_commercial(request.user)


class EnvelopePositionView(APIView):
    permission_classes = [CommercialOnly]
    PARAMETERS = {"as_of", "financial_year"}

    @extend_schema(
        summary="The envelope's headroom per financial year and budget line",
        description="OFFICIAL-SENSITIVE [COMMERCIAL]. Per financial year and budget line: "
        "budget, committed, received, forecast demand cost, the forecast cost of demand not "
        "yet ordered and headroom (budget − committed − demand not yet ordered), in pounds "
        "incl. VAT, with one signal each (within plan, forecast over budget, over plan "
        "volume, closed). Demand of categories the envelope does not fund is in `unfunded`, "
        "never counted. The same figures as the envelope page, its exports and the finance "
        "report. An unknown query parameter is a 400 naming it.",
        parameters=[
            OpenApiParameter(
                "as_of",
                OpenApiTypes.DATE,
                description="Count orders approved and goods received on or before this day.",
            ),
            OpenApiParameter(
                "financial_year",
                OpenApiTypes.STR,
                description="Only this year's lines and total, e.g. 2026/27.",
            ),
        ],
        responses={200: s.EnvelopePositionSerializer},
    )
    def get(self, request):
        unknown = sorted(set(request.query_params) - self.PARAMETERS)
        if unknown:
            raise ValidationError(
                {
                    name: ["Unknown parameter: this endpoint takes as_of and financial_year."]
                    for name in unknown
                }
            )
        as_of = None
        if request.query_params.get("as_of"):
            try:
                as_of = dt.date.fromisoformat(request.query_params["as_of"])
            except ValueError:
                raise ValidationError({"as_of": ["Give a date as YYYY-MM-DD."]}) from None
        year = request.query_params.get("financial_year") or None
        if year is not None:
            try:
                if FinancialYear.parse(year).label != year:
                    raise ValueError(year)
            except ValueError:
                raise ValidationError(
                    {"financial_year": ["Give a financial year as 2026/27."]}
                ) from None
        position = selectors.headroom(user=request.user, as_of=as_of, fy=year)
        data = {**position, "classification": OFFICIAL_SENSITIVE_COMMERCIAL}
        response = Response(s.EnvelopePositionSerializer(data).data)
        response["X-Classification"] = OFFICIAL_SENSITIVE_COMMERCIAL
        return response


@extend_schema_view(
    list=extend_schema(summary="Budget lines of the current envelope (commercial roles)"),
    retrieve=extend_schema(summary="One budget line"),
)
class BudgetLineViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.BudgetLineSerializer
    permission_classes = [CommercialOnly]

    queryset = BudgetLine.objects.none()  # for the schema; requests use the selector

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return BudgetLine.objects.none()
        return selectors.budget_line_list()


@extend_schema_view(
    list=extend_schema(summary="Contracts (values for commercial roles only)"),
    retrieve=extend_schema(summary="One contract"),
)
class ContractViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = s.ContractSerializer
    permission_classes = [ProcurementReader]

    def get_queryset(self):
        return selectors.contract_list(user=self.request.user)

    @extend_schema(
        summary="Record the contract's award (commercial officers)",
        description="The compliant route, the Director of Strategic Procurement's consent "
        "and, at £500,000 and above, the DMPC call-in outcome. Until recorded the contract "
        "takes no orders (error code contract_not_awarded).",
        request=s.ContractAwardInputSerializer,
        responses={200: s.ContractSerializer, 400: OpenApiResponse(description="Refused")},
    )
    @action(detail=True, methods=["post"])
    def award(self, request, pk=None):
        if not has_role(request.user, Role.COMMERCIAL):
            raise PermissionDenied("Only commercial officers record contract awards.")
        contract = get_object_or_404(self.get_queryset(), pk=pk)
        body = s.ContractAwardInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.contract_award_record(
            contract=contract, recorded_by=request.user, **body.validated_data
        )
        fresh = get_object_or_404(self.get_queryset(), pk=pk)
        return Response(self.get_serializer(fresh).data)


@extend_schema_view(
    list=extend_schema(summary="Purchase orders in your unit scope"),
    retrieve=extend_schema(summary="One purchase order"),
)
class PurchaseOrderViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet
):
    serializer_class = s.PurchaseOrderSerializer
    permission_classes = [ProcurementReader]
    filterset_fields = ["status"]

    def get_queryset(self):
        return selectors.purchase_order_list(user=self.request.user).prefetch_related(
            "lines", "approval_records"
        )

    def _order(self, pk) -> PurchaseOrder:
        return get_object_or_404(self.get_queryset(), pk=pk)

    def _respond(self, order, code=status.HTTP_200_OK):
        fresh = self._order(order.pk)
        return Response(self.get_serializer(fresh).data, status=code)

    def _require_commercial(self):
        if not can_see_commercial(self.request.user):
            raise PermissionDenied("Only finance and commercial officers may do this.")

    @extend_schema(
        summary="Raise a draft purchase order with its lines",
        request=s.PurchaseOrderCreateSerializer,
        responses={201: s.PurchaseOrderSerializer, 400: OpenApiResponse(description="Refused")},
    )
    def create(self, request):
        self._require_commercial()
        body = s.PurchaseOrderCreateSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        unit = (
            BusinessUnit.objects.visible_to(request.user).filter(pk=data["business_unit"]).first()
        )
        if unit is None:
            raise ValidationError({"business_unit": ["No such business unit in your scope."]})
        models = DeviceModel.objects.in_bulk([line["device_model"] for line in data["lines"]])
        missing = [
            n for n, line in enumerate(data["lines"], 1) if line["device_model"] not in models
        ]
        if missing:
            raise ValidationError({"lines": [f"Line {n}: no such device model." for n in missing]})
        order = services.purchase_order_create(
            budget_line=get_object_or_404(BudgetLine, pk=data["budget_line"]),
            supplier=get_object_or_404(Supplier, pk=data["supplier"]),
            contract=(
                get_object_or_404(Contract, pk=data["contract"]) if data.get("contract") else None
            ),
            business_unit=unit,
            raised_by=request.user,
            description=data.get("description", ""),
            lines=[
                {**line, "device_model": models[line["device_model"]]} for line in data["lines"]
            ],
        )
        return self._respond(order, status.HTTP_201_CREATED)

    @extend_schema(
        summary="Submit a draft for approval",
        request=None,
        responses={200: s.PurchaseOrderSerializer},
    )
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        self._require_commercial()
        order = services.purchase_order_submit(purchase_order=self._order(pk), actor=request.user)
        return self._respond(order)

    @extend_schema(
        summary="Record a compliant-route confirmation or DMPC approval / no call-in",
        request=s.ApprovalRecordInputSerializer,
        responses={200: s.PurchaseOrderSerializer},
    )
    @action(detail=True, methods=["post"], url_path="approval-records")
    def approval_records(self, request, pk=None):
        self._require_commercial()
        # The order first: one outside the caller's units is a 404 whatever the body says.
        order = self._order(pk)
        body = s.ApprovalRecordInputSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        services.approval_record_add(
            purchase_order=order, recorded_by=request.user, **body.validated_data
        )
        return self._respond(order)

    @extend_schema(
        summary="Approve: commits the order against its budget line and the envelope",
        description="Refused (400) when the approver's delegated limit does not cover it, "
        "when a threshold's approval record is missing, or when the line or envelope would "
        "be exceeded (the message says by how much).",
        request=None,
        responses={200: s.PurchaseOrderSerializer},
    )
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        self._require_commercial()
        order = services.purchase_order_approve(
            purchase_order=self._order(pk), approved_by=request.user
        )
        return self._respond(order)
