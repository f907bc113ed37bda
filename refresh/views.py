"""Refresh pages. Thin: parse, call a selector or a service, render."""

from __future__ import annotations

import tempfile
from decimal import Decimal

import xlsxwriter
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.roles import Role, can_see_commercial, has_role, require_role
from accounts.scoping import unit_scope
from core.errors import DomainError
from core.exports import OFFICIAL, classification, csv_cell, neutralise
from core.financial_year import FinancialYear
from devices.models import Category, Device
from refresh import forms, selectors, services
from refresh.models import (
    BaselineSnapshot,
    BauRate,
    OsEndOfSupport,
    RefreshPolicy,
    Scenario,
    WaveItem,
)

PAGE_SIZE = 100
PLANNERS = (Role.ASSET_MANAGER, Role.FINANCE)


def _form_error(form, exc: DomainError):
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)


# --- Eligibility ---------------------------------------------------------------------


def _eligibility_query(request, scope):
    form = forms.EligibilityFilterForm(request.GET or None, scope=scope)
    filters = {"business_unit": None, "category": "", "show": "due"}
    if form.is_valid():
        filters.update({k: v for k, v in form.cleaned_data.items() if v})
    qs = selectors.eligibility_list(
        scope=scope,
        business_unit=filters["business_unit"],
        category=filters["category"],
        due_only=filters["show"] == "due",
        reclaim=filters["show"] == "reclaim",
    )
    return form, filters, qs


@login_required
def eligibility(request):
    """Devices due for refresh (or idle for reclaim), by priority, keyset-paginated."""
    scope = unit_scope(request.user)
    form, filters, qs = _eligibility_query(request, scope)
    after = None
    if request.GET.get("after"):
        try:
            priority, device_id = (int(x) for x in request.GET["after"].split(":"))
            after = (priority, device_id)
        except ValueError:
            after = None
    if after:
        from django.db.models import Q

        qs = qs.filter(Q(priority__lt=after[0]) | Q(priority=after[0], device_id__gt=after[1]))
    rows = list(qs[: PAGE_SIZE + 1])
    next_url = None
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        params = request.GET.copy()
        params["after"] = f"{rows[-1].priority}:{rows[-1].device_id}"
        next_url = f"?{params.urlencode()}"
    params = request.GET.copy()
    params.pop("after", None)
    return render(
        request,
        "refresh/deviceeligibility_list.html",
        {
            "form": form,
            "rows": rows,
            "next_url": next_url,
            "first_url": f"?{params.urlencode()}" if after else None,
            "export_query": params.urlencode(),
            "summary": selectors.eligibility_summary(scope=scope),
            "last_run": selectors.last_eligibility_run(),
            "can_recompute": has_role(request.user, Role.ASSET_MANAGER),
            "classification": OFFICIAL,
            "page_size": PAGE_SIZE,
        },
    )


EXPORT_HEADER = [
    "Asset tag",
    "Serial number",
    "Model",
    "Category",
    "Status",
    "Business unit",
    "Purchase date",
    "Due date",
    "Due now",
    "Reclaim (idle)",
    "Repairs",
    "Priority",
    "Reasons",
    "Policy (months)",
    "Computed at",
]


def _export_rows(qs):
    for row in qs.iterator(chunk_size=2000):
        d = row.device
        yield [
            d.asset_tag or "",
            d.serial_number,
            d.device_model.name,
            row.category,
            d.get_status_display(),
            row.business_unit.code,
            row.purchase_date.isoformat() if row.purchase_date else "",
            row.due_date.isoformat() if row.due_date else "",
            "yes" if row.is_due else "no",
            "yes" if row.reclaim else "no",
            row.repair_count,
            row.priority,
            "; ".join(row.reasons),
            row.policy.lifecycle_months,
            timezone.localtime(row.computed_at).strftime("%Y-%m-%d %H:%M"),
        ]


class _Echo:
    def write(self, value):
        return value


@login_required
def eligibility_export(request, fmt: str):
    """CSV (streamed) or XLSX (xlsxwriter constant-memory) of the filtered list,
    marked OFFICIAL (no commercial figures), cells neutralised against formulas."""
    import csv

    scope = unit_scope(request.user)
    _form, _filters, qs = _eligibility_query(request, scope)
    marking = OFFICIAL
    stamp = timezone.localdate().isoformat()
    if fmt == "csv":
        writer = csv.writer(_Echo(), lineterminator="\r\n")

        def stream():
            yield "\ufeff" + writer.writerow([f"Classification: {marking}"])
            yield writer.writerow(EXPORT_HEADER)
            for values in _export_rows(qs):
                yield writer.writerow([csv_cell(v) for v in values])

        response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="refresh-eligibility-{stamp}.csv"'
        return response
    if fmt != "xlsx":
        raise Http404
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it
    workbook = xlsxwriter.Workbook(handle, {"constant_memory": True, "in_memory": False})
    sheet = workbook.add_worksheet("Eligibility")
    bold = workbook.add_format({"bold": True})
    sheet.write(0, 0, f"Classification: {marking}", bold)
    sheet.write_row(1, 0, EXPORT_HEADER, bold)
    last = 1
    for last, values in enumerate(_export_rows(qs), start=2):
        for c, value in enumerate(values):
            if isinstance(value, str):
                sheet.write_string(last, c, neutralise(value))
            else:
                sheet.write_number(last, c, value)
    # The marking again at the foot, so it survives whichever end is printed.
    sheet.write(last + 2, 0, f"Classification: {marking}", bold)
    workbook.close()
    handle.seek(0)
    return FileResponse(
        handle,
        as_attachment=True,
        filename=f"refresh-eligibility-{stamp}.xlsx",
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


@login_required
@require_POST
def eligibility_recompute(request):
    require_role(request.user, Role.ASSET_MANAGER)
    services.eligibility_recompute_request(actor=request.user)
    messages.success(request, "Eligibility is being recomputed for the whole estate.")
    return redirect("refresh:eligibility")


# --- Policies and rates ----------------------------------------------------------------


@login_required
def policy_list(request):
    can_edit = has_role(request.user, Role.ASSET_MANAGER)
    policy_form = forms.PolicyForm(prefix="policy")
    os_form = forms.OsEndOfSupportForm(prefix="os")
    if request.method == "POST":
        require_role(request.user, Role.ASSET_MANAGER)
        if "policy-category" in request.POST:
            policy_form = forms.PolicyForm(request.POST, prefix="policy")
            if policy_form.is_valid():
                try:
                    services.refresh_policy_create(actor=request.user, **policy_form.cleaned_data)
                except DomainError as exc:
                    _form_error(policy_form, exc)
                else:
                    messages.success(
                        request, "Policy version added. Recompute eligibility to apply it."
                    )
                    return redirect("refresh:policy_list")
        else:
            os_form = forms.OsEndOfSupportForm(request.POST, prefix="os")
            if os_form.is_valid():
                try:
                    services.os_end_of_support_save(**os_form.cleaned_data)
                except DomainError as exc:
                    _form_error(os_form, exc)
                else:
                    messages.success(request, "OS end of support saved.")
                    return redirect("refresh:policy_list")
    return render(
        request,
        "refresh/refreshpolicy_list.html",
        {
            "current": selectors.policies_current(),
            "policies": RefreshPolicy.objects.select_related("created_by").order_by(
                "category", "-effective_from"
            ),
            "os_entries": OsEndOfSupport.objects.all(),
            "policy_form": policy_form,
            "os_form": os_form,
            "can_edit": can_edit,
            "classification": OFFICIAL,
        },
    )


@login_required
def bau_rates(request):
    """BAU rates per category (finance sets them; planning prices are commercial)."""
    commercial = can_see_commercial(request.user)
    form = forms.BauRateForm()
    if request.method == "POST":
        require_role(request.user, Role.FINANCE)
        form = forms.BauRateForm(request.POST)
        if form.is_valid():
            data = dict(form.cleaned_data)
            try:
                services.bau_rate_save(actor=request.user, **data)
            except DomainError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, f"BAU rates for {data['category']} saved.")
                return redirect("refresh:bau_rates")
    return render(
        request,
        "refresh/baurate_list.html",
        {
            "rates": BauRate.objects.select_related("updated_by"),
            "form": form,
            "can_edit": has_role(request.user, Role.FINANCE),
            "commercial": commercial,
            "classification": classification(commercial=commercial),
        },
    )


# --- Forecast -----------------------------------------------------------------------------


def _years_from(request) -> list[FinancialYear]:
    try:
        first = FinancialYear.parse(request.GET.get("from", ""))
    except ValueError:
        return selectors.default_financial_years()
    return [FinancialYear(first.start_year + i) for i in range(5)]


def _forecast_scope(request):
    """The user's scope, narrowed to one unit's subtree when the filter asks."""
    from accounts.scoping import UnitScope

    scope = unit_scope(request.user)
    form = forms.ForecastFilterForm(request.GET or None, scope=scope)
    unit = form.cleaned_data.get("business_unit") if form.is_valid() else None
    if unit is not None:
        # The unit comes from the scoped choices, so narrowing cannot widen the scope.
        scope = UnitScope(unrestricted=False, paths=(unit.path,))
    return form, scope, unit


@login_required
def forecast(request):
    """Demand per financial year and category against the plan baseline."""
    form, scope, unit = _forecast_scope(request)
    commercial = can_see_commercial(request.user)
    years = _years_from(request)
    result = selectors.forecast_with_variance(financial_years=years, scope=scope)
    rows = result["rows"]
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
    if not commercial:
        for row in rows:
            row.pop("cost", None)
            row.pop("unit_price", None)
    year_totals = [
        {
            "label": fy.label,
            "volume": sum(r["volume"] for r in rows if r["financial_year"] == fy.label),
            "cost": sum(r.get("cost", 0) for r in rows if r["financial_year"] == fy.label)
            if commercial
            else None,
        }
        for fy in years
    ]
    return render(
        request,
        "refresh/forecast.html",
        {
            "rows": rows,
            "plan": result["plan"],
            "years": years,
            "year_totals": year_totals,
            "chart": chart,
            "commercial": commercial,
            "classification": classification(commercial=commercial),
            "exceedances": [r for r in rows if r["exceeds_plan"]],
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
    from django.http import HttpResponse

    from accounts.models import BusinessUnit
    from core.exports import csv_bytes

    _form, scope, _unit = _forecast_scope(request)
    commercial = can_see_commercial(request.user)
    years = _years_from(request)
    lines = selectors.forecast_lines(financial_years=years, scope=scope)
    prices = selectors.category_prices() if commercial else {}
    codes = dict(
        BusinessUnit.objects.filter(
            pk__in={line["business_unit_id"] for line in lines}
        ).values_list("pk", "code")
    )
    header = ["Business unit", "Financial year", "Category", "Refresh", "BAU", "Total"]
    if commercial:
        header += ["Unit price", "Cost"]
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
            _form_error(form, exc)
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
    rows = selectors.failure_rates(scope=scope)
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
        {"rows": rows, "chart": chart, "classification": OFFICIAL},
    )


# --- Scenarios -------------------------------------------------------------------------------


@login_required
def scenario_list(request):
    require_role(request.user, *PLANNERS)
    return render(
        request,
        "refresh/scenario_list.html",
        {"scenarios": Scenario.objects.select_related("created_by"), "classification": OFFICIAL},
    )


@login_required
def scenario_edit(request, pk: int | None = None):
    require_role(request.user, *PLANNERS)
    scenario = get_object_or_404(Scenario, pk=pk) if pk else None
    commercial = can_see_commercial(request.user)
    form = forms.ScenarioForm(scenario=scenario, show_prices=commercial)
    if request.method == "POST":
        form = forms.ScenarioForm(request.POST, show_prices=commercial)
        if form.is_valid():
            overrides = form.overrides()
            if scenario is not None and not commercial and "unit_prices" in scenario.overrides:
                # Prices are hidden from this user: keep the ones already set.
                overrides["unit_prices"] = scenario.overrides["unit_prices"]
            try:
                saved = services.scenario_save(
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    overrides=overrides,
                    actor=request.user,
                    scenario=scenario,
                )
            except DomainError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, f"Scenario “{saved.name}” saved.")
                return redirect("refresh:scenario_compare", pk=saved.pk)
    return render(
        request,
        "refresh/scenario_form.html",
        {
            "form": form,
            "scenario": scenario,
            "classification": classification(commercial=commercial),
        },
    )


@login_required
def scenario_compare(request, pk: int):
    require_role(request.user, *PLANNERS)
    scenario = get_object_or_404(Scenario.objects.select_related("created_by"), pk=pk)
    commercial = can_see_commercial(request.user)
    result = selectors.scenario_compare(scenario=scenario, financial_years=_years_from(request))
    if not commercial:
        for row in result["rows"]:
            for key in ("base_cost", "scenario_cost", "cost_delta"):
                row.pop(key, None)
    return render(
        request,
        "refresh/scenario_compare.html",
        {
            "scenario": scenario,
            "result": result,
            "commercial": commercial,
            "classification": classification(commercial=commercial),
        },
    )


# --- Waves ---------------------------------------------------------------------------------------


@login_required
def wave_list(request):
    scope = unit_scope(request.user)
    form = forms.WaveForm(scope=scope)
    if request.method == "POST":
        require_role(request.user, Role.ASSET_MANAGER)
        form = forms.WaveForm(request.POST, scope=scope)
        if form.is_valid():
            data = form.cleaned_data
            try:
                wave = services.wave_create(
                    name=data["name"],
                    volume=data["volume"],
                    actor=request.user,
                    business_unit=data["business_unit"],
                    category=data["category"],
                    min_priority=data["min_priority"] or 0,
                    scope=scope,
                )
            except DomainError as exc:
                _form_error(form, exc)
            else:
                messages.success(request, f"Wave “{wave.name}” created.")
                return redirect("refresh:wave_detail", pk=wave.pk)
    return render(
        request,
        "refresh/refreshwave_list.html",
        {
            "waves": selectors.wave_list(scope=scope)[:200],
            "form": form,
            "can_create": has_role(request.user, Role.ASSET_MANAGER),
            "classification": OFFICIAL,
        },
    )


def _wave_for(request, pk):
    scope = unit_scope(request.user)
    wave = selectors.wave_list(scope=scope).filter(pk=pk).first()
    if wave is None:
        raise Http404
    return wave, scope


@login_required
def wave_detail(request, pk: int):
    wave, scope = _wave_for(request, pk)
    items = list(selectors.wave_items(wave=wave, scope=scope))
    counts = dict.fromkeys(WaveItem.Status.values, 0)
    for item in items:
        counts[item.status] += 1
    return render(
        request,
        "refresh/refreshwave_detail.html",
        {
            "wave": wave,
            "items": items,
            "counts": [(WaveItem.Status(s).label, n) for s, n in counts.items()],
            "can_act": has_role(request.user, Role.ASSET_MANAGER),
            "classification": OFFICIAL,
        },
    )


def _item_for(request, wave_pk, item_pk):
    wave, scope = _wave_for(request, wave_pk)
    item = (
        scope.filter(WaveItem.objects.filter(wave=wave, pk=item_pk))
        .select_related("person", "old_device", "new_device", "wave")
        .first()
    )
    if item is None:
        raise Http404
    return wave, item


@login_required
def wave_item_detail(request, pk: int, item_pk: int):
    """One swap: allocate from stock, hand over, record return, confirm AT, complete."""
    wave, item = _item_for(request, pk, item_pk)
    can_act = has_role(request.user, Role.ASSET_MANAGER)
    at_form = forms.ATConfirmForm()
    error = None
    if request.method == "POST":
        require_role(request.user, Role.ASSET_MANAGER)
        action = request.POST.get("action", "")
        try:
            if action == "allocate":
                device_id = request.POST.get("new_device", "")
                device = (
                    Device.objects.filter(pk=int(device_id)).first()
                    if device_id.isdigit()
                    else None
                )
                if device is None:
                    raise DomainError("Choose a device from stock.", field="new_device")
                services.swap_allocate(item=item, new_device=device, actor=request.user)
            elif action == "confirm_at":
                at_form = forms.ATConfirmForm(request.POST)
                if not at_form.is_valid():
                    raise DomainError("Say what was checked.", field="note")
                services.swap_confirm_at(
                    item=item, actor=request.user, note=at_form.cleaned_data["note"]
                )
            elif action in services.SWAP_ACTIONS:
                services.SWAP_ACTIONS[action](item=item, actor=request.user)
            else:
                raise DomainError("Unknown action.", field="action")
        except DomainError as exc:
            error = exc
            if exc.field == "note":
                at_form.add_error("note", exc.message)
        else:
            messages.success(request, "Swap updated.")
            return redirect("refresh:wave_item_detail", pk=wave.pk, item_pk=item.pk)
        item.refresh_from_db()
    at_confirmation = getattr(item, "at_confirmation", None)
    stock = (
        list(selectors.stock_for_item(item=item))
        if can_act and item.status == WaveItem.Status.PLANNED
        else []
    )
    return render(
        request,
        "refresh/waveitem_detail.html",
        {
            "wave": wave,
            "item": item,
            "stock": stock,
            "at_confirmation": at_confirmation,
            "at_form": at_form,
            "error": error,
            "can_act": can_act,
            "allowed": services.SWAP_TRANSITIONS[item.status],
            "Status": WaveItem.Status,
            "classification": OFFICIAL,
        },
        status=400 if error else 200,
    )
