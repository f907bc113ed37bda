"""Procurement pages. Thin: each view checks the role, asks a selector or calls a
service, and renders. Commercial figures only reach the template when
``can_see_commercial``; such pages are marked OFFICIAL-SENSITIVE [COMMERCIAL]."""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from accounts.models import BusinessUnit
from accounts.roles import Role, can_see_commercial, has_role, require_role
from accounts.scoping import unit_scope
from core.errors import DomainError
from core.exports import OFFICIAL, OFFICIAL_SENSITIVE_COMMERCIAL, classification
from procurement import exports, forms, selectors, services
from procurement.models import PurchaseOrder
from refresh.models import Scenario

PROCUREMENT_ROLES = (Role.FINANCE, Role.COMMERCIAL, Role.ASSET_MANAGER)


def _require_commercial(request):
    if not can_see_commercial(request.user):
        raise PermissionDenied("Commercial figures are for finance and commercial officers.")


def _marking(request) -> str:
    return classification(commercial=can_see_commercial(request.user))


def _error_text(exc) -> str:
    if isinstance(exc, DomainError):
        return exc.message
    if isinstance(exc, ValidationError):
        return "; ".join(
            f"{k}: {' '.join(v)}" if k != "__all__" else " ".join(v)
            for k, v in getattr(exc, "message_dict", {"__all__": exc.messages}).items()
        )
    return str(exc)


def _as_of(request) -> dt.date | None:
    raw = request.GET.get("as_of")
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        return None


# --- the finance dashboard ---------------------------------------------------------


@login_required
def scenario_envelope(request, pk: int):
    """A refresh scenario against the envelope: inline on the scenario page (htmx asks
    for the fragment) or as a page of its own (the link without JavaScript)."""
    _require_commercial(request)
    scenario = get_object_or_404(Scenario.objects.select_related("created_by"), pk=pk)
    context = {
        "scenario": scenario,
        "comparison": selectors.scenario_against_envelope(scenario=scenario),
        "classification": OFFICIAL_SENSITIVE_COMMERCIAL,
    }
    if request.headers.get("HX-Request"):
        return render(request, "procurement/_scenario_envelope.html", context)
    return render(request, "procurement/scenario_envelope.html", context)


@login_required
def dashboard(request):
    """Envelope, committed, received, forecast and headroom per year and category.
    Asset managers see volumes only."""
    require_role(request.user, *PROCUREMENT_ROLES)
    commercial = can_see_commercial(request.user)
    scope = unit_scope(request.user)
    as_of = _as_of(request)
    position = selectors.envelope_position(as_of=as_of, scope=scope)
    context = {
        "commercial": commercial,
        "classification": _marking(request),
        "position": position,
        "as_of": as_of,
        "volumes": selectors.category_year_volumes(position),
    }
    if commercial:
        burn = selectors.commitment_burn_down(scope=scope)
        context["years"] = selectors.year_totals(position)
        context["burn_down"] = burn
        context["chart_data"] = {
            "labels": [row["label"] for row in burn],
            "committed": [str(row["cumulative_committed"]) for row in burn],
            "envelope": [str(row["envelope"]) for row in burn],
        }
    return render(request, "procurement/envelope_dashboard.html", context)


@login_required
def dashboard_export(request):
    """The dashboard table as XLSX, for finance and commercial roles only."""
    _require_commercial(request)
    as_of = _as_of(request)
    position = selectors.envelope_position(as_of=as_of, scope=unit_scope(request.user))
    label = (as_of or services.london_today()).isoformat()
    body = exports.envelope_position_xlsx(position, as_of_label=label)
    response = HttpResponse(
        body, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="envelope-position-{label}-OFFICIAL-SENSITIVE-COMMERCIAL.xlsx"'
    )
    response["X-Classification"] = OFFICIAL_SENSITIVE_COMMERCIAL
    return response


# --- budget lines and transfers -------------------------------------------------------


@login_required
def budget_line_list(request):
    _require_commercial(request)
    envelope = selectors.current_envelope()
    lines = list(selectors.budget_line_list(envelope=envelope))
    form = forms.BudgetTransferForm(envelope=envelope)
    if request.method == "POST":
        form = forms.BudgetTransferForm(request.POST, envelope=envelope)
        if form.is_valid():
            try:
                services.budget_transfer_make(made_by=request.user, **form.cleaned_data)
            except (DomainError, ValidationError) as exc:
                field = getattr(exc, "field", None)
                form.add_error(field if field in form.fields else None, _error_text(exc))
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


# --- contracts ---------------------------------------------------------------------------


@login_required
def contract_list(request):
    require_role(request.user, *PROCUREMENT_ROLES)
    contracts = selectors.contract_list(user=request.user)[:200]
    return render(
        request,
        "procurement/contract_list.html",
        {
            "contracts": contracts,
            "commercial": can_see_commercial(request.user),
            "classification": _marking(request),
            "may_create": has_role(request.user, Role.COMMERCIAL),
        },
    )


@login_required
def contract_detail(request, pk: int):
    require_role(request.user, *PROCUREMENT_ROLES)
    contract = get_object_or_404(selectors.contract_list(user=request.user), pk=pk)
    orders = selectors.purchase_order_list(user=request.user).filter(contract=contract)[:100]
    may_award = has_role(request.user, Role.COMMERCIAL) and not contract.is_awarded
    form = forms.ContractAwardForm(request.POST or None) if may_award else None
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
                field = getattr(exc, "field", None)
                form.add_error(field if field in form.fields else None, _error_text(exc))
            else:
                messages.success(request, f"Award of {contract.reference} recorded.")
                return redirect("procurement:contract_detail", pk=contract.pk)
    return render(
        request,
        "procurement/contract_detail.html",
        {
            "contract": contract,
            "orders": orders,
            "commercial": can_see_commercial(request.user),
            "classification": _marking(request),
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
    form = forms.ContractForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            contract = services.contract_create(
                envelope=envelope, created_by=request.user, **form.cleaned_data
            )
        except (DomainError, ValidationError) as exc:
            field = getattr(exc, "field", None)
            form.add_error(field if field in form.fields else None, _error_text(exc))
        else:
            messages.success(request, f"Contract {contract.reference} recorded.")
            return redirect("procurement:contract_detail", pk=contract.pk)
    return render(
        request,
        "procurement/contract_form.html",
        {"form": form, "classification": OFFICIAL_SENSITIVE_COMMERCIAL, "envelope": envelope},
    )


# --- purchase orders -------------------------------------------------------------------


@login_required
def purchase_order_list(request):
    require_role(request.user, *PROCUREMENT_ROLES)
    filter_form = forms.PurchaseOrderFilterForm(request.GET or None)
    filters = filter_form.cleaned_data if filter_form.is_valid() else {}
    orders = list(selectors.purchase_order_list(user=request.user, filters=filters)[:100])
    return render(
        request,
        "procurement/purchaseorder_list.html",
        {
            "orders": orders,
            "filter_form": filter_form,
            "commercial": can_see_commercial(request.user),
            "classification": _marking(request),
            "may_create": can_see_commercial(request.user),
        },
    )


def _get_order(request, pk: int) -> PurchaseOrder:
    try:
        return selectors.purchase_order_get(user=request.user, pk=pk)
    except PurchaseOrder.DoesNotExist as exc:
        raise Http404("No such purchase order in your scope.") from exc


@login_required
def purchase_order_detail(request, pk: int):
    require_role(request.user, *PROCUREMENT_ROLES)
    order = _get_order(request, pk)
    commercial = can_see_commercial(request.user)
    approval_day = services.london_today()
    S = PurchaseOrder.Status
    return render(
        request,
        "procurement/purchaseorder_detail.html",
        {
            "order": order,
            "commercial": commercial,
            "classification": _marking(request),
            "missing": (
                services.approval_requirements(purchase_order=order, on_date=approval_day)
                if order.status == S.SUBMITTED and commercial
                else []
            ),
            "record_form": forms.ApprovalRecordForm(),
            "approve_form": forms.ApproveForm(),
            "receive_form": forms.ReceiveForm(purchase_order=order)
            if order.status in (S.ORDERED, S.PARTLY_RECEIVED)
            else None,
            "received_devices": selectors.received_devices_for(purchase_order=order),
            "may_approve": commercial and order.status == S.SUBMITTED,
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
    )


@login_required
def purchase_order_create(request):
    """Finance and commercial officers raise orders (they carry prices)."""
    _require_commercial(request)
    envelope = selectors.current_envelope()
    if envelope is None:
        raise Http404("No capital envelope has been recorded.")
    units = BusinessUnit.objects.visible_to(request.user).filter(active=True)
    form = forms.PurchaseOrderForm(request.POST or None, envelope=envelope, units=units)
    formset = forms.PurchaseOrderLineFormSet(request.POST or None, prefix="lines")
    errors: list[str] = []
    if request.method == "POST" and form.is_valid() and formset.is_valid():
        lines = _lines_from(formset)
        try:
            order = services.purchase_order_create(
                raised_by=request.user, lines=lines, **form.cleaned_data
            )
        except (DomainError, ValidationError) as exc:
            errors.append(_error_text(exc))
        else:
            messages.success(request, f"Draft order {order.reference} raised.")
            return redirect("procurement:purchase_order_detail", pk=order.pk)
    return render(
        request,
        "procurement/purchaseorder_form.html",
        {
            "form": form,
            "formset": formset,
            "errors": errors,
            "classification": OFFICIAL_SENSITIVE_COMMERCIAL,
        },
    )


def _lines_from(formset) -> list[dict]:
    lines = []
    for f in formset.forms:
        if not f.cleaned_data or f.cleaned_data.get("is_blank"):
            continue
        line = {k: f.cleaned_data[k] for k in ("device_model", "quantity", "unit_price")}
        if f.cleaned_data.get("vat_rate") is not None:
            line["vat_rate"] = f.cleaned_data["vat_rate"]
        lines.append(line)
    return lines


@login_required
def purchase_order_edit(request, pk: int):
    """Change a draft order's lines (a submitted one is returned to draft first)."""
    _require_commercial(request)
    order = _get_order(request, pk)
    initial = [
        {
            "device_model": line.device_model_id,
            "quantity": line.quantity,
            "unit_price": line.unit_price,
            "vat_rate": line.vat_rate,
        }
        for line in order.lines.all()
    ]
    formset = forms.PurchaseOrderLineFormSet(request.POST or None, prefix="lines", initial=initial)
    errors: list[str] = []
    if request.method == "POST" and formset.is_valid():
        try:
            services.purchase_order_lines_replace(
                purchase_order=order, lines=_lines_from(formset), actor=request.user
            )
        except (DomainError, ValidationError) as exc:
            errors.append(_error_text(exc))
        else:
            messages.success(request, f"{order} lines updated.")
            return redirect("procurement:purchase_order_detail", pk=order.pk)
    return render(
        request,
        "procurement/purchaseorder_edit.html",
        {
            "order": order,
            "formset": formset,
            "errors": errors,
            "classification": OFFICIAL_SENSITIVE_COMMERCIAL,
        },
    )


@login_required
@require_POST
def purchase_order_return_to_draft(request, pk: int):
    _require_commercial(request)
    return _act(
        request,
        pk,
        lambda o: services.purchase_order_return_to_draft(purchase_order=o, actor=request.user),
        "{order} is back in draft for changes.",
    )


def _act(request, pk: int, action, success: str):
    order = _get_order(request, pk)
    try:
        action(order)
    except (DomainError, ValidationError) as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, success.format(order=order))
    return redirect("procurement:purchase_order_detail", pk=order.pk)


@login_required
@require_POST
def purchase_order_submit(request, pk: int):
    _require_commercial(request)
    return _act(
        request,
        pk,
        lambda o: services.purchase_order_submit(purchase_order=o, actor=request.user),
        "{order} submitted for approval.",
    )


@login_required
@require_POST
def purchase_order_approve(request, pk: int):
    _require_commercial(request)
    _get_order(request, pk)  # an order outside the caller's units is a 404 before any form
    if not forms.ApproveForm(request.POST).is_valid():
        messages.error(request, "Tick the box to confirm the approval.")
        return redirect("procurement:purchase_order_detail", pk=pk)
    return _act(
        request,
        pk,
        lambda o: services.purchase_order_approve(purchase_order=o, approved_by=request.user),
        "{order} approved and committed against the envelope.",
    )


@login_required
@require_POST
def approval_record_add(request, pk: int):
    _require_commercial(request)
    _get_order(request, pk)  # an order outside the caller's units is a 404 before any form
    form = forms.ApprovalRecordForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose the approval and give its reference.")
        return redirect("procurement:purchase_order_detail", pk=pk)
    return _act(
        request,
        pk,
        lambda o: services.approval_record_add(
            purchase_order=o, recorded_by=request.user, **form.cleaned_data
        ),
        "Approval recorded on {order}.",
    )


@login_required
@require_POST
def purchase_order_mark_ordered(request, pk: int):
    _require_commercial(request)
    return _act(
        request,
        pk,
        lambda o: services.purchase_order_mark_ordered(purchase_order=o, actor=request.user),
        "{order} placed with the supplier.",
    )


@login_required
@require_POST
def purchase_order_cancel(request, pk: int):
    _require_commercial(request)
    return _act(
        request,
        pk,
        lambda o: services.purchase_order_cancel(purchase_order=o, actor=request.user),
        "{order} cancelled; its commitment is released.",
    )


@login_required
@require_POST
def purchase_order_close(request, pk: int):
    _require_commercial(request)
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
    order = _get_order(request, pk)
    form = forms.ReceiveForm(request.POST or None, request.FILES or None, purchase_order=order)
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
            form.add_error("serials", _error_text(exc))
        else:
            messages.success(
                request, f"{receipt.quantity} devices received into stock against {order}."
            )
            return redirect("procurement:purchase_order_detail", pk=order.pk)
    return render(
        request,
        "procurement/purchaseorder_receive.html",
        {"order": order, "form": form, "classification": OFFICIAL},
    )
