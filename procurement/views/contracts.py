"""Contracts: the list and a contract's page (each with its warnings: expiry, and a
ceiling little used with little time left), recording an award, recording a contract."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render

from accounts.roles import Role, can_see_commercial, has_role, require_role
from core.errors import DomainError
from core.exports import OFFICIAL_SENSITIVE_COMMERCIAL
from procurement import forms, selectors, services
from procurement.views.common import PROCUREMENT_ROLES, add_refusal, marking, posted


@login_required
def contract_list(request):
    require_role(request.user, *PROCUREMENT_ROLES)
    commercial = can_see_commercial(request.user)
    today = services.london_today()
    contracts = list(selectors.contract_list(user=request.user)[:200])
    for contract in contracts:
        contract.warnings = selectors.contract_warnings(
            contract=contract, today=today, commercial=commercial
        )
    return render(
        request,
        "procurement/contract_list.html",
        {
            "contracts": contracts,
            "warned": [c for c in contracts if c.warnings],
            "commercial": commercial,
            "classification": marking(request),
            "may_create": has_role(request.user, Role.COMMERCIAL),
        },
    )


@login_required
def contract_detail(request, pk: int):
    require_role(request.user, *PROCUREMENT_ROLES)
    commercial = can_see_commercial(request.user)
    contract = get_object_or_404(selectors.contract_list(user=request.user), pk=pk)
    contract.warnings = selectors.contract_warnings(
        contract=contract, today=services.london_today(), commercial=commercial
    )
    orders = selectors.purchase_order_list(user=request.user).filter(contract=contract)[:100]
    may_award = has_role(request.user, Role.COMMERCIAL) and not contract.is_awarded
    form = forms.ContractAwardForm(posted(request)) if may_award else None
    if request.method == "POST":
        # Recording the award: the Director of Strategic Procurement's consent, the
        # compliant route and, at £500,000 and above, the DMPC call-in outcome.
        require_role(request.user, Role.COMMERCIAL)
        if form is None:
            messages.error(request, f"Contract {contract.reference}'s award is already recorded.")
            return redirect("procurement:contract_detail", pk=contract.pk)
        if form.is_valid():
            try:
                services.contract_award_record(
                    contract=contract, recorded_by=request.user, **form.cleaned_data
                )
            except (DomainError, ValidationError) as exc:
                add_refusal(form, exc)
            else:
                messages.success(request, f"Award of {contract.reference} recorded.")
                return redirect("procurement:contract_detail", pk=contract.pk)
    return render(
        request,
        "procurement/contract_detail.html",
        {
            "contract": contract,
            "orders": orders,
            "commercial": commercial,
            "classification": marking(request),
            "award_form": form,
        },
    )


@login_required
def contract_create(request):
    """Commercial officers record contracts (the Commercial Director's delegation)."""
    require_role(request.user, Role.COMMERCIAL)
    envelope = selectors.current_envelope()
    if envelope is None:
        raise Http404("No capital envelope has been recorded.")
    form = forms.ContractForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            contract = services.contract_create(
                envelope=envelope, created_by=request.user, **form.cleaned_data
            )
        except (DomainError, ValidationError) as exc:
            add_refusal(form, exc)
        else:
            messages.success(request, f"Contract {contract.reference} recorded.")
            return redirect("procurement:contract_detail", pk=contract.pk)
    return render(
        request,
        "procurement/contract_form.html",
        {"form": form, "classification": OFFICIAL_SENSITIVE_COMMERCIAL, "envelope": envelope},
    )
