"""The envelope page (finance officers' landing page), its exports, a scenario against
the envelope and the budget lines. Every figure of headroom comes from
``procurement.selectors.headroom``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from accounts.roles import can_see_commercial, require_role
from accounts.scoping import unit_scope
from core.errors import DomainError
from core.exports import OFFICIAL_SENSITIVE_COMMERCIAL
from procurement import exports, forms, selectors, services
from procurement.views.common import (
    PROCUREMENT_ROLES,
    add_refusal,
    marking,
    require_commercial,
    unknown_parameters,
)
from refresh.models import Scenario

EXPORT_PARAMETERS = {"as_of"}


def _as_of(request):
    """The optional "position as of" day, from the GOV.UK date input (or one ISO
    value, as the export links send it). An invalid day is a form error."""
    form = forms.EnvelopeAsOfForm(request.GET or None)
    if request.GET and form.is_valid():
        return form, form.cleaned_data.get("as_of")
    return form, None


def _warnings(position: dict) -> dict:
    rows = position["rows"]
    return {
        "over_budget": [r for r in rows if r["over_budget"] and not r["closed"]],
        "over_plan": [r for r in rows if r["over_plan_volume"]],
    }


@login_required
def dashboard(request):
    """The envelope per financial year and budget line: budget, committed, received,
    demand not yet ordered and headroom, one signal each. Asset managers see volumes."""
    require_role(request.user, *PROCUREMENT_ROLES)
    commercial = can_see_commercial(request.user)
    as_of_form, as_of = _as_of(request)
    position = selectors.headroom(user=request.user, as_of=as_of)
    context = {
        "commercial": commercial,
        "classification": marking(request),
        "position": position,
        "as_of": as_of,
        "as_of_form": as_of_form,
        "volumes": selectors.category_year_volumes(position),
        "warnings": _warnings(position),
    }
    if commercial:
        burn = selectors.commitment_burn_down(scope=unit_scope(request.user))
        context["burn_down"] = burn
        context["chart_data"] = {
            "labels": [row["label"] for row in burn],
            "committed": [str(row["cumulative_committed"]) for row in burn],
            "envelope": [str(row["envelope"]) for row in burn],
        }
    return render(request, "procurement/envelope_dashboard.html", context)


def _export(request, *, fmt: str):
    require_commercial(request)
    refused = unknown_parameters(request, EXPORT_PARAMETERS)
    if refused is not None:
        return refused
    as_of_form, as_of = _as_of(request)
    if request.GET and not as_of_form.is_valid():
        errors = "; ".join(e for errs in as_of_form.errors.values() for e in errs)
        return HttpResponse(
            f"as_of: {errors}", status=400, content_type="text/plain; charset=utf-8"
        )
    position = selectors.headroom(user=request.user, as_of=as_of)
    label = (as_of or services.london_today()).isoformat()
    if fmt == "xlsx":
        body = exports.envelope_position_xlsx(position, as_of_label=label)
        content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    else:
        body = "\ufeff" + exports.envelope_position_csv(position, as_of_label=label)
        content_type = "text/csv; charset=utf-8"
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = (
        f'attachment; filename="envelope-position-{label}-OFFICIAL-SENSITIVE-COMMERCIAL.{fmt}"'
    )
    response["X-Classification"] = OFFICIAL_SENSITIVE_COMMERCIAL
    return response


@login_required
def dashboard_export(request):
    """The envelope position as XLSX, for finance and commercial roles only."""
    return _export(request, fmt="xlsx")


@login_required
def dashboard_export_csv(request):
    """The envelope position as CSV, for finance and commercial roles only."""
    return _export(request, fmt="csv")


@login_required
def scenario_envelope(request, pk: int):
    """A refresh scenario against the envelope (the same headroom sum with the
    scenario's forecast, within the viewer's units): inline on the scenario page
    (htmx asks for the fragment) or as a page of its own (the link without
    JavaScript)."""
    require_commercial(request)
    scenario = get_object_or_404(Scenario.objects.select_related("created_by"), pk=pk)
    context = {
        "scenario": scenario,
        "comparison": selectors.scenario_envelope(scenario=scenario, user=request.user),
        "classification": OFFICIAL_SENSITIVE_COMMERCIAL,
    }
    if request.headers.get("HX-Request"):
        return render(request, "procurement/_scenario_envelope.html", context)
    return render(request, "procurement/scenario_envelope.html", context)


@login_required
def budget_line_list(request):
    require_commercial(request)
    envelope = selectors.current_envelope()
    lines = list(selectors.budget_line_list(envelope=envelope))
    form = forms.BudgetTransferForm(envelope=envelope)
    if request.method == "POST":
        form = forms.BudgetTransferForm(request.POST, envelope=envelope)
        if form.is_valid():
            try:
                services.budget_transfer_make(made_by=request.user, **form.cleaned_data)
            except (DomainError, ValidationError) as exc:
                add_refusal(form, exc)
            else:
                messages.success(request, "Money moved between the lines.")
                return redirect("procurement:budget_lines")
    return render(
        request,
        "procurement/budgetline_list.html",
        {
            "classification": OFFICIAL_SENSITIVE_COMMERCIAL,
            "envelope": envelope,
            "lines": lines,
            "form": form,
            "may_transfer": envelope is not None
            and services.may_manage_envelope(envelope=envelope, user=request.user),
            "transfers": selectors.budget_transfer_list(envelope=envelope)[:50] if envelope else [],
        },
    )
