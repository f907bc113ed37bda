"""The reports API: read-only, scoped. Unit viewers see their units' runs; the
finance report only finance and commercial roles; anything else is a 404."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets

from core.errors import DomainError
from reports import selectors
from reports.api.serializers import ReportRunDetailSerializer, ReportRunSerializer
from reports.models import ReportRun


@extend_schema_view(
    list=extend_schema(
        summary="List report runs you may see",
        parameters=[
            OpenApiParameter("kind", OpenApiTypes.STR, enum=ReportRun.Kind.values),
            OpenApiParameter("business_unit", OpenApiTypes.INT),
            OpenApiParameter(
                "period",
                OpenApiTypes.STR,
                description="The month, YYYY-MM (or its first day, YYYY-MM-01), from "
                "January 2000 to the current month; anything else is a 400 naming it.",
            ),
        ],
    ),
    retrieve=extend_schema(summary="One report run, its figures and its download metadata"),
)
class ReportRunViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = ReportRunSerializer

    def get_serializer_class(self):
        return ReportRunDetailSerializer if self.action == "retrieve" else ReportRunSerializer

    def get_queryset(self):
        params = self.request.query_params
        unit = params.get("business_unit")
        if unit is not None and not unit.isdigit():
            raise DomainError("business_unit must be a unit id.", field="business_unit")
        period = params.get("period")
        try:
            period_date = selectors.report_period_parse(period, label="period") if period else None
        except ValueError as exc:
            raise DomainError(f"{exc}.", field="period") from None
        kind = params.get("kind") or None
        if kind is not None and kind not in ReportRun.Kind.values:
            raise DomainError(
                f"kind must be one of {', '.join(ReportRun.Kind.values)}.", field="kind"
            )
        qs = selectors.report_run_list(
            user=self.request.user,
            unit_id=int(unit) if unit else None,
            period=period_date,
            kind=kind,
        )
        if self.action == "list":
            # The list does not carry the figures: leave the JSON in the database.
            qs = qs.defer("summary")
        return qs.order_by("id")
