"""Overrides away from a suggested resale, awaiting a finance or commercial officer:
signed off (the device takes the route asked for) or rejected with a reason (it keeps
its suggested resale). The services decide who may (a finance or commercial officer
other than the requester), so a refusal is shown as an error."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render

from accounts.roles import can_see_commercial, has_role
from core.errors import DomainError
from disposals import forms, selectors, services
from disposals.views.common import READ_ROLES, SIGN_OFF_ROLES, form_errors, marking, role_required

SIGN_OFF_PAGE_SIZE = 200
ACTIONS = ("sign_off", "reject")


@role_required(*READ_ROLES)
def route_sign_offs(request):
    errors = []
    reject_form = forms.RejectOverrideForm(request.POST or None)
    ticked: list[int] = []
    if request.method == "POST":
        action = request.POST.get("action", "sign_off")
        ticked = [int(v) for v in request.POST.getlist("selected") if v.isdigit()]
        # Scope: only cases the user can see are passed on.
        ids = list(
            selectors.case_list(user=request.user)
            .filter(pk__in=ticked)
            .values_list("pk", flat=True)
        )
        if action not in ACTIONS:
            errors = [("selected", "Choose to sign off or to reject the selected overrides.")]
        elif not ids:
            errors = [("selected", "Select at least one override in your scope.")]
        elif not reject_form.is_valid():
            errors = form_errors(reject_form)
        else:
            try:
                if action == "reject":
                    done = services.route_overrides_reject(
                        case_ids=ids,
                        approver=request.user,
                        reason=reject_form.cleaned_data["reason"],
                        source="web",
                    )
                    message = (
                        f"Rejected {len(done)} route override(s): the devices keep their "
                        "suggested route (resale)."
                    )
                else:
                    done = services.route_overrides_sign_off(
                        case_ids=ids, approver=request.user, source="web"
                    )
                    message = f"Signed off {len(done)} route override(s)."
            except DomainError as exc:
                if exc.field == "reason":
                    reject_form.add_error("reason", exc.message)
                    errors = form_errors(reject_form)
                else:
                    errors = [("selected", exc.message)]
            else:
                messages.success(request, message)
                return redirect("disposals:route_sign_offs")
    pending = list(selectors.overrides_awaiting_sign_off(user=request.user)[:SIGN_OFF_PAGE_SIZE])
    commercial = can_see_commercial(request.user)
    return render(
        request,
        "disposals/route_sign_offs.html",
        {
            "decisions": pending,
            "errors": errors,
            "reject_form": reject_form,
            "selected_ids": set(ticked),
            "commercial": commercial,
            "can_sign_off": has_role(request.user, *SIGN_OFF_ROLES),
            "classification": marking(request.user, True),
        },
        status=400 if errors else 200,
    )
