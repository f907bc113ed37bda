"""What finance and commercial officers do to an order: submit, record an approval,
approve, return to draft (with a reason), place with the supplier, cancel (a separate
confirmation step with a reason), close, and receive goods. A refusal comes back on
the page that asked, in the GOV.UK error summary; success is a banner saying what
happened."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.roles import require_role
from core.errors import DomainError
from core.exports import OFFICIAL, OFFICIAL_SENSITIVE_COMMERCIAL
from procurement import forms, services
from procurement.views.common import (
    PROCUREMENT_ROLES,
    add_refusal,
    error_text,
    posted,
    require_commercial,
)
from procurement.views.orders import get_order, render_detail


def _act(request, pk: int, action, success: str):
    """A button without a form: done, a banner; refused, the page with the reason."""
    order = get_order(request, pk)
    try:
        action(order)
    except (DomainError, ValidationError) as exc:
        return render_detail(request, get_order(request, pk), action_errors=[error_text(exc)])
    messages.success(request, success.format(order=order))
    return redirect("procurement:purchase_order_detail", pk=order.pk)


@login_required
@require_POST
def purchase_order_submit(request, pk: int):
    require_commercial(request)
    return _act(
        request,
        pk,
        lambda o: services.purchase_order_submit(purchase_order=o, actor=request.user),
        "{order} submitted for approval.",
    )


@login_required
@require_POST
def approval_record_add(request, pk: int):
    require_commercial(request)
    order = get_order(request, pk)  # outside the caller's units: a 404 before any form
    form = forms.ApprovalRecordForm(request.POST)
    if form.is_valid():
        try:
            services.approval_record_add(
                purchase_order=order, recorded_by=request.user, **form.cleaned_data
            )
        except (DomainError, ValidationError) as exc:
            add_refusal(form, exc)
        else:
            messages.success(request, f"Approval recorded on {order}.")
            return redirect("procurement:purchase_order_detail", pk=order.pk)
    return render_detail(request, get_order(request, pk), record_form=form)


@login_required
@require_POST
def purchase_order_approve(request, pk: int):
    """Approve today (the service takes no day): commits the order against its line
    and the envelope, or says in the error summary why not."""
    require_commercial(request)
    order = get_order(request, pk)  # outside the caller's units: a 404 before any form
    form = forms.ApproveForm(request.POST)
    if form.is_valid():
        try:
            services.purchase_order_approve(purchase_order=order, approved_by=request.user)
        except (DomainError, ValidationError) as exc:
            add_refusal(form, exc)
        else:
            messages.success(request, f"{order} approved and committed against the envelope.")
            return redirect("procurement:purchase_order_detail", pk=order.pk)
    return render_detail(request, get_order(request, pk), approve_form=form)


def _with_reason(request, pk: int, *, form_class, service, template: str, success: str):
    """A step that asks why first (its own page): done, a banner on the order's page;
    refused, the same page with the reason in the error summary."""
    require_commercial(request)
    order = get_order(request, pk)  # outside the caller's units: a 404 before any form
    form = form_class(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            service(purchase_order=order, actor=request.user, reason=form.cleaned_data["reason"])
        except (DomainError, ValidationError) as exc:
            add_refusal(form, exc)
        else:
            messages.success(request, success.format(order=order))
            return redirect("procurement:purchase_order_detail", pk=order.pk)
    return render(
        request,
        template,
        {"order": order, "form": form, "classification": OFFICIAL_SENSITIVE_COMMERCIAL},
    )


@login_required
def purchase_order_return_to_draft(request, pk: int):
    """Send a submitted order back to draft for changes: asks why."""
    return _with_reason(
        request,
        pk,
        form_class=forms.ReturnToDraftForm,
        service=services.purchase_order_return_to_draft,
        template="procurement/purchaseorder_return.html",
        success="{order} is back in draft for changes.",
    )


@login_required
def purchase_order_cancel(request, pk: int):
    """Cancel an order: a separate step that asks for a reason and a confirmation."""
    return _with_reason(
        request,
        pk,
        form_class=forms.CancelForm,
        service=services.purchase_order_cancel,
        template="procurement/purchaseorder_cancel.html",
        success="{order} cancelled; its commitment is released.",
    )


@login_required
@require_POST
def purchase_order_mark_ordered(request, pk: int):
    require_commercial(request)
    return _act(
        request,
        pk,
        lambda o: services.purchase_order_mark_ordered(purchase_order=o, actor=request.user),
        "{order} placed with the supplier.",
    )


@login_required
@require_POST
def purchase_order_close(request, pk: int):
    require_commercial(request)
    return _act(
        request,
        pk,
        lambda o: services.purchase_order_close(purchase_order=o, actor=request.user),
        "{order} closed.",
    )


@login_required
def purchase_order_receive(request, pk: int):
    """Receive devices against a line: pasted serials or an uploaded CSV/TXT."""
    require_role(request.user, *PROCUREMENT_ROLES)
    order = get_order(request, pk)
    form = forms.ReceiveForm(posted(request), posted(request, files=True), purchase_order=order)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        serials = services.serials_from_text(data.get("serials") or "")
        if data.get("upload"):
            serials += services.serials_from_upload(data["upload"].read())
        try:
            receipt = services.purchase_order_receive(
                line=data["line"],
                serial_numbers=serials,
                received_by=request.user,
                received_on=data.get("received_on"),
            )
        except (DomainError, ValidationError) as exc:
            form.add_error("serials", error_text(exc))
        else:
            messages.success(
                request, f"{receipt.quantity:,} devices received into stock against {order}."
            )
            return redirect("procurement:purchase_order_detail", pk=order.pk)
    return render(
        request,
        "procurement/purchaseorder_receive.html",
        {"order": order, "form": form, "classification": OFFICIAL},
    )
