"""Policy and BAU rate pages."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from accounts.roles import Role, can_see_commercial, has_role, require_role
from core.errors import DomainError
from core.exports import OFFICIAL, classification
from refresh import forms, selectors, services
from refresh.models import BauRate, OsEndOfSupport, RefreshPolicy
from refresh.views.common import form_error


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
                    form_error(policy_form, exc)
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
                    form_error(os_form, exc)
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
                form_error(form, exc)
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
