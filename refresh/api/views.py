"""Read-only refresh API: eligibility (one device or a filtered, cursor-paginated
set) and the demand forecast. Everything goes through the caller's unit scope."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import BusinessUnit
from accounts.roles import can_see_commercial
from accounts.scoping import unit_scope
from api.pagination import IdCursorPagination
from core.exports import OFFICIAL, classification
from core.financial_year import FinancialYear
from core.middleware import CLASSIFICATION_HEADER
from devices.models import Category
from refresh import selectors
from refresh.api.serializers import (
    EligibilitySerializer,
    ForecastResponseSerializer,
    ForecastRowSerializer,
)
from refresh.models import MAX_ID


class EligibilityCursorPagination(IdCursorPagination):
    # The eligibility row's primary key is the device id.
    ordering = "pk"


class EligibilityViewSet(viewsets.ReadOnlyModelViewSet):
    """Eligibility for refresh. Filters: ``business_unit`` (id, includes sub-units),
    ``category``, ``due`` (true/false), ``reclaim`` (true)."""

    serializer_class = EligibilitySerializer
    pagination_class = EligibilityCursorPagination
    lookup_field = "pk"
    lookup_url_kwarg = "device_id"
    # A device id is a positive 64-bit integer: anything longer is not a device (404),
    # never an integer overflow in the database driver (500).
    lookup_value_regex = r"[0-9]{1,18}"
    # Read in get_queryset below; the default filter backend refuses any other
    # parameter by name (api/filters.py), as every list does.
    query_parameters = ("business_unit", "category", "due", "reclaim")

    @extend_schema(
        parameters=[
            OpenApiParameter("business_unit", OpenApiTypes.INT),
            OpenApiParameter("category", OpenApiTypes.STR, enum=Category.values),
            OpenApiParameter("due", OpenApiTypes.BOOL),
            OpenApiParameter("reclaim", OpenApiTypes.BOOL),
        ]
    )
    def list(self, request, *args, **kwargs):
        response = super().list(request, *args, **kwargs)
        response[CLASSIFICATION_HEADER] = OFFICIAL
        return response

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        response[CLASSIFICATION_HEADER] = OFFICIAL
        return response

    def get_queryset(self):
        scope = unit_scope(self.request.user)
        params = self.request.query_params
        unit = None
        if params.get("business_unit"):
            raw = params["business_unit"]
            if not raw.isdigit() or not 1 <= int(raw) <= MAX_ID:
                raise ValidationError({"business_unit": "Give a business unit id."})
            unit = BusinessUnit.objects.within(scope).filter(pk=params["business_unit"]).first()
            if unit is None:
                raise Http404
        category = params.get("category", "")
        if category and category not in Category.values:
            raise ValidationError({"category": f"{category!r} is not a category."})
        due = params.get("due")
        qs = selectors.eligibility_list(
            scope=scope,
            business_unit=unit,
            category=category,
            due_only=due in ("true", "1"),
            reclaim=params.get("reclaim") in ("true", "1"),
        )
        if due in ("false", "0"):
            qs = qs.filter(is_due=False)
        return qs.order_by("pk")


class ForecastView(APIView):
    """Demand per financial year and category (refresh + BAU). ``from`` (e.g.
    2025/26) and ``years`` (1-10) choose the years. ``cost`` appears only for
    finance and commercial roles; the response's ``classification`` (and its
    ``X-Classification`` header) says which. ``funded`` is false for a category the
    capital envelope does not fund (tablets): its demand is not envelope demand."""

    @extend_schema(
        parameters=[
            OpenApiParameter("from", OpenApiTypes.STR),
            OpenApiParameter("years", OpenApiTypes.INT),
        ],
        responses={200: ForecastResponseSerializer},
    )
    def get(self, request):
        raw_years = request.query_params.get("years", "5")
        try:
            # Short strings only: int() of a 5,000-digit string is refused by Python.
            years = int(raw_years) if len(raw_years) <= 4 else 0
        except ValueError:
            raise ValidationError({"years": "Give a whole number of years."}) from None
        if not 1 <= years <= 10:
            raise ValidationError({"years": "Give between 1 and 10 years."})
        if request.query_params.get("from"):
            try:
                first = selectors.financial_year_in_range(request.query_params["from"])
            except ValueError as exc:
                raise ValidationError({"from": str(exc)}) from None
        else:
            first = selectors.default_financial_years()[0]
        fys = [FinancialYear(first.start_year + i) for i in range(years)]
        commercial = can_see_commercial(request.user)
        rows = selectors.forecast_totals(financial_years=fys, scope=unit_scope(request.user))
        fields = ["financial_year", "category", "refresh_volume", "bau_volume", "volume", "funded"]
        if commercial:
            fields.append("cost")
        data = [ForecastRowSerializer({k: row[k] for k in fields}).data for row in rows]
        marking = classification(commercial=commercial)
        response = Response({"classification": marking, "results": data})
        response[CLASSIFICATION_HEADER] = marking
        return response
