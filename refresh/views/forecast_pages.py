"""Forecast pages: demand against the plan, its export, baselines and failure rates."""

from __future__ import annotations

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import BusinessUnit
from accounts.roles import can_see_commercial, has_role, require_role
from accounts.scoping import UnitScope, unit_scope
from core.errors import DomainError
from core.exports import OFFICIAL, classification, csv_bytes
from core.middleware import CLASSIFICATION_HEADER
from devices.models import Category
from refresh import forms, selectors, services
from refresh.models import BaselineSnapshot
from refresh.views.common import PLANNERS, form_error, years_from


def _forecast_scope(request):
    """The user's scope, narrowed to one unit's subtree when the filter asks."""
    scope = unit_scope(request.user)
    form = forms.ForecastFilterForm(request.GET or None, scope=scope)
    unit = form.cleaned_data.get("business_unit") if form.is_valid() else None
    if unit is not None:
        # The unit comes from the scoped choices, so narrowing cannot widen the scope.
        scope = UnitScope.subtree(unit)
    return form, scope, unit


def _year_totals(rows, years, *, commercial: bool) -> list[dict]:
    return [
        {
            "label": fy.label,
            "volume": sum(r["volume"] for r in rows if r["financial_year"] == fy.label),
            "cost": sum(
                (r["cost"] for r in rows if r["financial_year"] == fy.label), Decimal("0.00")
            )
            if commercial
            else None,
        }
        for fy in years
    ]


@login_required
def forecast(request):
    """Demand per financial year and category against the plan baseline; the
    categories the envelope does not fund (tablets) apart, never in its totals."""
    form, scope, unit = _forecast_scope(request)
    commercial = can_see_commercial(request.user)
    years = years_from(request)
    result = selectors.forecast_with_variance(financial_years=years, scope=scope)
    rows, outside = result["funded_rows"], result["outside_rows"]
    chart = {
        "labels": [fy.label for fy in years],
        "datasets": [
            {
                "label": label,
                "data": [
                    sum(
                        r["volume"]
                        for r in rows
                        if r["financial_year"] == fy.label and r["category"] == cat
                    )
                    for fy in years
                ],
            }
            for cat, label in Category.choices
            if any(r["category"] == cat for r in rows)
        ],
    }
    year_totals = _year_totals(rows, years, commercial=commercial)
    outside_totals = _year_totals(outside, years, commercial=commercial) if outside else []
    if not commercial:
        for row in result["rows"]:
            row.pop("cost", None)
            row.pop("unit_price", None)
    return render(
        request,
        "refresh/forecast.html",
        {
            "rows": rows,
            "outside_rows": outside,
            "funded_labels": [
                Category(c).label.lower()
                for c in Category.values
                if c in result["funded_categories"]
            ],
            "plan": result["plan"],
            "years": years,
            "year_totals": year_totals,
            "outside_totals": outside_totals,
            "chart": chart,
            "commercial": commercial,
            "classification": classification(commercial=commercial),
            "exceedances": [r for r in result["rows"] if r["exceeds_plan"]],
            "baselines": BaselineSnapshot.objects.all()[:10],
            "can_baseline": has_role(request.user, *PLANNERS),
            "baseline_form": forms.BaselineForm(),
            "filter_form": form,
            "unit": unit,
            "export_query": request.GET.urlencode(),
        },
    )


@login_required
def forecast_export(request):
    """The forecast per business unit, financial year and category as CSV; costs
    (and the OFFICIAL-SENSITIVE [COMMERCIAL] marking) only for finance roles."""
    _form, scope, _unit = _forecast_scope(request)
    commercial = can_see_commercial(request.user)
    years = years_from(request)
    lines = selectors.forecast_lines(financial_years=years, scope=scope)
    prices = selectors.category_prices() if commercial else {}
    codes = dict(
        BusinessUnit.objects.within(scope)
        .filter(pk__in={line["business_unit_id"] for line in lines})
        .values_list("pk", "code")
    )
    funded = selectors.funded_set()
    header = ["Business unit", "Financial year", "Category", "Refresh", "BAU", "Total"]
    if commercial:
        header += ["Unit price", "Cost"]
    header.append("Funded by the envelope")
    rows = []
    for line in lines:
        volume = line["refresh_volume"] + line["bau_volume"]
        row = [
            codes.get(line["business_unit_id"], ""),
            line["fy"].label,
            line["category"],
            line["refresh_volume"],
            line["bau_volume"],
            volume,
        ]
        if commercial:
            price = prices.get(line["category"], Decimal("0.00"))
            row += [price, (price * volume).quantize(Decimal("0.01"))]
        row.append("yes" if line["category"] in funded else "no: outside the envelope's scope")
        rows.append(row)
    body = csv_bytes(
        header=header,
        rows=rows,
        marking=classification(commercial=commercial),
        period=f"{years[0].label} to {years[-1].label}",
    )
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="refresh-forecast-{timezone.localdate().isoformat()}.csv"'
    )
    # How the download is marked, for the security log (core.middleware) and proxies.
    response[CLASSIFICATION_HEADER] = classification(commercial=commercial)
    return response


@login_required
@require_POST
def baseline_create(request):
    require_role(request.user, *PLANNERS)
    form = forms.BaselineForm(request.POST)
    if form.is_valid():
        try:
            services.baseline_snapshot_create(
                name=form.cleaned_data["name"],
                as_of=form.cleaned_data["as_of"],
                financial_years=form.financial_years(),
                is_plan=form.cleaned_data["is_plan"],
                actor=request.user,
            )
        except DomainError as exc:
            form_error(form, exc)
        else:
            messages.success(request, "Baseline saved.")
            return redirect("refresh:forecast")
    return render(
        request,
        "refresh/baselinesnapshot_form.html",
        {"form": form, "classification": OFFICIAL},
        status=400,
    )


@login_required
def failure_rates(request):
    scope = unit_scope(request.user)
    result, computed_now = services.failure_rates_for_page(scope=scope)
    rows = result.rows
    categories = [c for c in Category.values if any(r["category"] == c for r in rows)]
    chart = {
        "labels": selectors.AGE_BANDS,
        "datasets": [
            {
                "label": Category(c).label,
                "data": [float(r["rate"] or 0) for r in rows if r["category"] == c],
            }
            for c in categories
        ],
    }
    return render(
        request,
        "refresh/failure_rates.html",
        {
            "rows": rows,
            "chart": chart,
            # An estate without dated devices has no rows, hence no stored time:
            # the moment just computed stands for it.
            "as_at": result.as_at or computed_now,
            "computed_now": computed_now is not None,
            "classification": OFFICIAL,
        },
    )
