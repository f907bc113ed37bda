"""The reports API: read-only, scoped. Unit viewers see their units' runs; the
finance report only finance and commercial roles; anything else is a 404."""

import datetime as dt

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets

from reports import selectors
from reports.api.serializers import ReportRunDetailSerializer, ReportRunSerializer
from reports.models import ReportRun


@extend_schema_view(
    list=extend_schema(
        summary="List report runs you may see",
        parameters=[
            OpenApiParameter("kind", OpenApiTypes.STR, enum=ReportRun.Kind.values),
            OpenApiParameter("business_unit", OpenApiTypes.INT),
            OpenApiParameter("period", OpenApiTypes.DATE, description="First day of the month."),
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
        period = params.get("period")
        try:
            period_date = dt.date.fromisoformat(period) if period else None
        except ValueError:
            period_date = None
        qs = selectors.report_run_list(
            user=self.request.user,
            unit_id=int(unit) if unit and unit.isdigit() else None,
            period=period_date,
            kind=params.get("kind") or None,
        )
        if self.action == "list":
            # The list does not carry the figures: leave the JSON in the database.
            qs = qs.defer("summary")
        return qs.order_by("id")
