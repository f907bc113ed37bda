"""Purchase orders: the list (filtered, e.g. by budget line from the envelope page),
an order's page with the actions its viewer may take, raising an order and changing a
draft's lines. The status actions are in ``procurement.views.order_actions``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect, render

from accounts.models import BusinessUnit
from accounts.roles import Role, can_see_commercial, has_role, require_role
from core.errors import DomainError
from core.exports import OFFICIAL_SENSITIVE_COMMERCIAL
from procurement import forms, selectors, services
from procurement.models import PurchaseOrder
from procurement.views.common import (
    PROCUREMENT_ROLES,
    add_refusal,
    error_text,
    marking,
    posted,
    require_commercial,
)

S = PurchaseOrder.Status


@login_required
def purchase_order_list(request):
    require_role(request.user, *PROCUREMENT_ROLES)
    envelope = selectors.current_envelope()
    filter_form = forms.PurchaseOrderFilterForm(request.GET or None, envelope=envelope)
    filters = filter_form.cleaned_data if filter_form.is_valid() else {}
    orders = list(selectors.purchase_order_list(user=request.user, filters=filters)[:100])
    return render(
        request,
        "procurement/purchaseorder_list.html",
        {
            "orders": orders,
            "filter_form": filter_form,
            "budget_line": filters.get("budget_line"),
            "commercial": can_see_commercial(request.user),
            "classification": marking(request),
            "may_create": can_see_commercial(request.user),
        },
    )


def get_order(request, pk: int) -> PurchaseOrder:
    try:
        return selectors.purchase_order_get(user=request.user, pk=pk)
    except PurchaseOrder.DoesNotExist as exc:
        raise Http404("No such purchase order in your scope.") from exc


def approval_panel(request, order: PurchaseOrder) -> dict:
    """Whether the viewer may approve this order today, and if not, why in words
    (the raiser, the recorder of its approval record, or a limit too low)."""
    user = request.user
    if not can_see_commercial(user) or order.status != S.SUBMITTED:
        return {"show": False}
    if order.raised_by_id == user.pk:
        return {
            "show": False,
            "reason": "You raised this order; another finance officer must approve it.",
        }
    recorded = next(
        (
            r
            for r in order.approval_records.all()
            if r.order_revision == order.revision and r.recorded_by_id == user.pk
        ),
        None,
    )
    if recorded is not None:
        return {
            "show": False,
            "reason": f"You recorded this order's {recorded.get_kind_display().lower()} "
            "record; someone else must approve it.",
        }
    may_approve, limit = services.approval_limit_for(user=user, on_date=services.london_today())
    if not may_approve:
        return {
            "show": False,
            "reason": "You have no delegated authority to approve purchase orders.",
        }
    if limit is not None and order.gross_total > limit:
        return {
            "show": False,
            "reason": f"This order is {services.gbp(order.gross_total)}; your delegated "
            f"limit is {services.gbp(limit)}. A commercial officer must approve it.",
        }
    return {"show": True, "limit": limit}


def render_detail(
    request,
    order: PurchaseOrder,
    *,
    approve_form=None,
    record_form=None,
    action_errors: list[str] | None = None,
    status: int = 200,
):
    """An order's page; a refused action comes back here with its error in the GOV.UK
    error summary (``approve_form`` / ``record_form`` bound with errors, or
    ``action_errors`` for the buttons without a form)."""
    commercial = can_see_commercial(request.user)
    approval_day = services.london_today()
    panel = approval_panel(request, order)
    forms_with_errors = [f for f in (approve_form, record_form) if f is not None and f.errors]
    return render(
        request,
        "procurement/purchaseorder_detail.html",
        {
            "order": order,
            "commercial": commercial,
            "classification": marking(request),
            "missing": (
                services.approval_requirements(purchase_order=order, on_date=approval_day)
                if order.status == S.SUBMITTED and commercial
                else []
            ),
            "panel": panel,
            "after": (
                selectors.headroom_after_approval(order=order, user=request.user)
                if panel["show"]
                else None
            ),
            "record_form": record_form or forms.ApprovalRecordForm(),
            "approve_form": approve_form or forms.ApproveForm(),
            "forms_with_errors": forms_with_errors,
            "action_errors": action_errors or [],
            "received_devices": selectors.received_devices_for(purchase_order=order),
            "may_record": commercial and order.status == S.SUBMITTED,
            "may_submit": commercial and order.status == S.DRAFT,
            "may_edit": commercial and order.status == S.DRAFT,
            "may_return": commercial and order.status == S.SUBMITTED,
            "may_order": commercial and order.status == S.APPROVED,
            "may_cancel": commercial
            and order.status in (S.DRAFT, S.SUBMITTED, S.APPROVED, S.ORDERED),
            "may_close": commercial and order.status in (S.PARTLY_RECEIVED, S.RECEIVED),
            "may_receive": has_role(request.user, Role.ASSET_MANAGER, Role.FINANCE, Role.COMMERCIAL)
            and order.status in (S.ORDERED, S.PARTLY_RECEIVED),
        },
        status=status,
    )


@login_required
def purchase_order_detail(request, pk: int):
    require_role(request.user, *PROCUREMENT_ROLES)
    return render_detail(request, get_order(request, pk))


def _line_errors(formset) -> list[tuple[str, str]]:
    """(anchor, message) for every error in the line forms, each naming its line."""
    out = []
    for number, line_form in enumerate(formset.forms, start=1):
        for name, errors in line_form.errors.items():
            anchor = (
                line_form[name].id_for_label
                if name in line_form.fields
                else line_form["device_model"].id_for_label
            )
            for message in errors:
                out.append((anchor, f"Line {number}: {message}"))
    for message in formset.non_form_errors():
        out.append((f"id_{formset.prefix}-0-device_model", message))
    return out


def _lines_from(formset) -> list[dict]:
    return [line for f in formset.forms if (line := f.line()) is not None]


@login_required
def purchase_order_create(request):
    """Finance and commercial officers raise orders (they carry prices)."""
    require_commercial(request)
    envelope = selectors.current_envelope()
    if envelope is None:
        raise Http404("No capital envelope has been recorded.")
    units = BusinessUnit.objects.visible_to(request.user).filter(active=True)
    form = forms.PurchaseOrderForm(posted(request), envelope=envelope, units=units)
    formset = forms.PurchaseOrderLineFormSet(posted(request), prefix="lines")
    if request.method == "POST":
        form_ok, lines_ok = form.is_valid(), formset.is_valid()
        lines = _lines_from(formset) if lines_ok else []
        if form_ok and lines_ok and not lines and formset.forms:
            formset.forms[0].add_error("device_model", "Choose a device model")
        elif form_ok and lines_ok:
            try:
                order = services.purchase_order_create(
                    raised_by=request.user, lines=lines, **form.cleaned_data
                )
            except (DomainError, ValidationError) as exc:
                add_refusal(form, exc)
            else:
                messages.success(request, f"Draft order {order.reference} raised.")
                return redirect("procurement:purchase_order_detail", pk=order.pk)
    return render(
        request,
        "procurement/purchaseorder_form.html",
        {
            "form": form,
            "formset": formset,
            "line_errors": _line_errors(formset) if request.method == "POST" else [],
            "classification": OFFICIAL_SENSITIVE_COMMERCIAL,
        },
    )


@login_required
def purchase_order_edit(request, pk: int):
    """Change a draft order's lines (a submitted one is returned to draft first)."""
    require_commercial(request)
    order = get_order(request, pk)
    formset = forms.PurchaseOrderLineFormSet(
        posted(request), prefix="lines", initial=forms.line_initial(order)
    )
    refusals: list[str] = []
    if request.method == "POST" and formset.is_valid():
        try:
            services.purchase_order_lines_replace(
                purchase_order=order, lines=_lines_from(formset), actor=request.user
            )
        except (DomainError, ValidationError) as exc:
            refusals.append(error_text(exc))
        else:
            messages.success(request, f"{order} lines updated.")
            return redirect("procurement:purchase_order_detail", pk=order.pk)
    return render(
        request,
        "procurement/purchaseorder_edit.html",
        {
            "order": order,
            "formset": formset,
            "line_errors": _line_errors(formset) if request.method == "POST" else [],
            "refusals": refusals,
            "classification": OFFICIAL_SENSITIVE_COMMERCIAL,
        },
    )
