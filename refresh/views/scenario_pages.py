"""Scenario pages: the list, the editor and the comparison with the baseline."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render

from accounts.roles import can_see_commercial, require_role
from accounts.scoping import unit_scope
from core.errors import DomainError
from core.exports import OFFICIAL, classification
from devices.models import Category
from refresh import forms, selectors, services
from refresh.models import Scenario
from refresh.views.common import PLANNERS, form_error, years_from


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
                form_error(form, exc)
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
    # Volumes and costs of the viewer's units only: scope applies to aggregates too.
    result = selectors.scenario_compare(
        scenario=scenario, financial_years=years_from(request), scope=unit_scope(request.user)
    )
    if not commercial:
        for row in result["rows"]:
            for key in ("base_cost", "scenario_cost", "cost_delta"):
                row.pop(key, None)
        for key in ("base_cost", "scenario_cost", "saving"):
            result.pop(key, None)
        result["outside"] = {k: v for k, v in result["outside"].items() if "cost" not in k}
    return render(
        request,
        "refresh/scenario_compare.html",
        {
            "scenario": scenario,
            "result": result,
            "commercial": commercial,
            "funded_labels": [
                Category(c).label.lower()
                for c in Category.values
                if c in result["funded_categories"]
            ],
            "classification": classification(commercial=commercial),
        },
    )
