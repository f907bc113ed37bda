"""Disposals by financial year (page and CSV), and the residual-value rule finance
sets."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts.roles import can_see_commercial
from core.errors import DomainError
from core.exports import classification, csv_bytes
from core.financial_year import FinancialYear, current_financial_year
from disposals import forms, selectors, services
from disposals.models import ResidualValueRule
from disposals.views.common import READ_ROLES, RULE_ROLES, download, role_required


def _summary_fy(request) -> FinancialYear:
    label = request.GET.get("fy", "")
    try:
        return FinancialYear.parse(label) if label else current_financial_year()
    except ValueError:
        return current_financial_year()


@role_required(*READ_ROLES)
def summary(request):
    fy = _summary_fy(request)
    commercial = can_see_commercial(request.user)
    data = selectors.disposal_summary(user=request.user, fy=fy, commercial=commercial)
    mark = classification(commercial=data["income_shown"])
    if request.GET.get("format") == "csv":
        header = ["Category", *data["columns"], "Total devices", "Estimated weight (kg)"]
        rows = [[r["label"], *r["by_route"], r["total"], r["weight_kg"]] for r in data["rows"]]
        rows.append(["Total", *data["totals"], data["total"], data["total_weight_kg"]])
        if data["income_shown"]:
            rows.append(["Resale income (£)", data["resale_income"]])
        body = csv_bytes(header=header, rows=rows, marking=mark, period=fy.label)
        return download(
            body,
            filename=f"disposals-{fy.label.replace('/', '-')}.csv",
            content_type="text/csv; charset=utf-8",
            mark=mark,
        )
    current = current_financial_year()
    years = [FinancialYear(current.start_year - i) for i in range(4)]
    return render(
        request,
        "disposals/summary.html",
        {**data, "classification": mark, "years": years, "commercial": commercial},
    )


@role_required(*RULE_ROLES)
def value_rule(request):
    """The rule in force and its history; finance adds a new rule from a date."""
    current = services.residual_value_rule_current(on_date=timezone.localdate())
    initial = {
        f.name: getattr(current, f.name)
        for f in ResidualValueRule._meta.fields
        if f.name not in ("id", "effective_from")
    }
    form = forms.ResidualValueRuleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            rule = services.residual_value_rule_create(
                rule=form.save(commit=False), actor=request.user
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"Saved {rule}.")
            return redirect("disposals:value_rule")
    return render(
        request,
        "disposals/residualvaluerule_form.html",
        {
            "form": form,
            "current": current,
            "rules": ResidualValueRule.objects.all()[:20],
            # The rule's thresholds are commercial figures.
            "classification": classification(commercial=True),
        },
        status=400 if form.errors else 200,
    )
