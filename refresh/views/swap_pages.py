"""A swap's pages: its steps (allocate by scan, hand over, return, confirm AT,
complete) and the separate cancellation, which asks why and then confirms.

Thin: each POST parses one form and calls one service in ``refresh.services``;
the services hold every rule. Refusals land on the field they name in the GOV.UK
error summary; a step that went through says what happened in the banner.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render

from accounts.roles import Role, has_role, require_role
from core.errors import DomainError
from core.exports import OFFICIAL
from refresh import forms, selectors, services
from refresh.models import SwapStep, WaveItem
from refresh.selectors.waves import STOCK_PAGE_SIZE
from refresh.views.wave_pages import _wave_for

# The step a swap at each status offers next (its form: ``refresh.forms.STEP_FORMS``).
NEXT_STEP = {
    WaveItem.Status.PLANNED: "allocate",
    WaveItem.Status.ALLOCATED: "hand_over",
    WaveItem.Status.HANDED_OVER: "return",
    WaveItem.Status.RETURNED: "complete",
}
STEP_BUTTONS = {
    "allocate": "Allocate",
    "hand_over": "Record handover",
    "return": "Record old device returned",
    "complete": "Complete swap",
}
STEP_HEADINGS = {
    "allocate": "Allocate a new {category}",
    "hand_over": "Hand the new {category} over",
    "return": "Take the old {category} back",
    "complete": "Complete the swap",
}
CANCELLABLE = (WaveItem.Status.PLANNED, WaveItem.Status.ALLOCATED)


def _item_for(request, wave_pk, item_pk):
    wave, scope = _wave_for(request, wave_pk)
    item = (
        WaveItem.objects.within(scope)
        .filter(wave=wave, pk=item_pk)
        .select_related(
            "person", "person__business_unit", "old_device", "new_device", "wave", "business_unit"
        )
        .first()
    )
    if item is None:
        raise Http404
    return wave, item, scope


def _who(item: WaveItem) -> str:
    return f"Swap for {item.person}"


def _banner(step: str, item: WaveItem, *, condition: str = "") -> str:
    """What the step did, in words: "Swap for S1234: AB123 allocated"."""
    who = _who(item)
    if step == "allocate":
        return f"{who}: {item.new_device} allocated"
    if step == "hand_over":
        return f"{who}: {item.new_device} handed over"
    if step == "return":
        label = SwapStep.Condition(condition).label.split(":")[0].lower() if condition else ""
        return f"{who}: old device {item.old_device} returned" + (f" ({label})" if label else "")
    if step == "complete":
        item.old_device.refresh_from_db(fields=["business_unit"])
        return (
            f"{who} completed: {item.new_device} is now held in {item.person.business_unit.code}, "
            f"{item.old_device} is back in {item.old_device.business_unit.code}"
        )
    if step == "confirm_at":
        return f"{who}: assistive technology confirmed working on {item.new_device}"
    return f"{who} updated"


def _run_step(request, item: WaveItem, step: str, form) -> None:
    """Call the service for ``step`` with the form's data (raises DomainError)."""
    data = form.cleaned_data
    common = {"item": item, "actor": request.user, "occurred_on": data["occurred_on"]}
    notes = data.get("notes", "")
    if step == "allocate":
        if data.get("code"):
            services.swap_allocate_by_code(code=data["code"], notes=notes, **common)
            return
        # A device chosen by id: only one the user may allocate can be found; any
        # other id (unknown, out of range, outside their units) is refused as unknown,
        # without naming the device.
        device = (
            selectors.allocatable_devices(actor=request.user).filter(pk=data["new_device"]).first()
        )
        if device is None:
            raise DomainError(services.DEVICE_NOT_FOUND, field="code")
        services.swap_allocate(new_device=device, notes=notes, **common)
    elif step == "hand_over":
        services.swap_hand_over(
            notes=notes, condition=data.get("old_device_condition", ""), **common
        )
    elif step == "return":
        services.swap_record_return(notes=notes, condition=data["old_device_condition"], **common)
    elif step == "complete":
        services.swap_complete(notes=notes, **common)


def _error_field(form, exc: DomainError) -> None:
    """Put a service's refusal on the field it names (a device refusal on the code
    box), else on the whole form: the error summary then names it."""
    field = exc.field
    if field == "new_device" and "code" in form.fields:
        field = "code"
    if field == "old_device_condition" and field not in form.fields:
        field = None
    form.add_error(field if field in form.fields else None, exc.message)


def _stock_context(request, item: WaveItem, scope) -> dict:
    """The stock this swap may draw on, searched and a page at a time."""
    search = forms.StockSearchForm(request.GET or None)
    query, page = "", 1
    if search.is_valid():
        query = search.cleaned_data.get("q") or ""
        page = search.cleaned_data.get("page") or 1
    rows = list(selectors.stock_for_item(item=item, scope=scope, query=query, page=page))
    base = {"q": query} if query else {}
    return {
        "stock": rows[:STOCK_PAGE_SIZE],
        "stock_search": search,
        "stock_query": query,
        "stock_next": urlencode({**base, "page": page + 1})
        if len(rows) > STOCK_PAGE_SIZE
        else None,
        "stock_previous": urlencode({**base, "page": page - 1}) if page > 1 else None,
    }


@login_required
def wave_item_detail(request, pk: int, item_pk: int):
    """One swap: its steps so far, and the form for its next step."""
    wave, item, scope = _item_for(request, pk, item_pk)
    can_act = has_role(request.user, Role.ASSET_MANAGER)
    step = NEXT_STEP.get(item.status)
    initial = {}
    if step == "allocate" and request.GET.get("code"):
        # "Choose" in the stock list fills the box, as a scan would.
        initial["code"] = request.GET["code"][:100]
    step_form = forms.STEP_FORMS[step](initial=initial) if step else None
    at_form = forms.ATConfirmForm()
    status = 200
    error = None  # the service's refusal, if one refused the step
    page_error = ""  # a request for no step this page offers
    if request.method == "POST":
        require_role(request.user, Role.ASSET_MANAGER)
        action = request.POST.get("action", "")
        if action == "confirm_at":
            at_form = forms.ATConfirmForm(request.POST)
            if at_form.is_valid():
                try:
                    services.swap_confirm_at(
                        item=item, actor=request.user, note=at_form.cleaned_data["note"]
                    )
                except DomainError as exc:
                    error = exc
                    at_form.add_error("note", exc.message)
                else:
                    messages.success(request, _banner("confirm_at", item))
                    return redirect("refresh:wave_item_detail", pk=wave.pk, item_pk=item.pk)
            status = 400
        elif action in forms.STEP_FORMS:
            posted = forms.STEP_FORMS[action](request.POST)
            if action != step:
                # The swap moved on (another tab, a colleague, a second click): say so,
                # and offer the step it is at now.
                page_error = f"This swap is {item.get_status_display().lower()}: " + (
                    "its next step is below." if step else "it has no further step."
                )
                status = 400
            elif posted.is_valid():
                step_form = posted
                try:
                    _run_step(request, item, action, posted)
                except DomainError as exc:
                    error = exc
                    _error_field(posted, exc)
                else:
                    item.refresh_from_db()
                    condition = posted.cleaned_data.get("old_device_condition", "")
                    messages.success(request, _banner(action, item, condition=condition))
                    return redirect("refresh:wave_item_detail", pk=wave.pk, item_pk=item.pk)
            else:
                step_form = posted
            status = 400
        else:
            page_error = "Choose one of the steps on this page."
            status = 400
        item.refresh_from_db()
    at_check = selectors.swap_at_check(item=item) if item.person.at_needs else None
    context = {
        "wave": wave,
        "item": item,
        "steps": list(selectors.swap_steps(item=item)),
        "step": step,
        "step_form": step_form,
        "step_button": STEP_BUTTONS.get(step, ""),
        "step_heading": STEP_HEADINGS.get(step, "").format(category=item.category),
        "at_check": at_check,
        "at_form": at_form,
        "error": error,
        "page_error": page_error,
        "can_act": can_act,
        "can_cancel": can_act and item.status in CANCELLABLE,
        "Status": WaveItem.Status,
        "classification": OFFICIAL,
    }
    if can_act and step == "allocate":
        context.update(_stock_context(request, item, scope))
    return render(request, "refresh/waveitem_detail.html", context, status=status)


@login_required
def wave_item_cancel(request, pk: int, item_pk: int):
    """Cancel a swap: first the reason (and the day), then a separate confirmation
    showing what will happen; only the confirmation cancels."""
    require_role(request.user, Role.ASSET_MANAGER)
    wave, item, _scope = _item_for(request, pk, item_pk)
    form = forms.CancelSwapForm()
    confirming = False
    status = 200
    if request.method == "POST":
        form = forms.CancelSwapForm(request.POST)
        if form.is_valid():
            if request.POST.get("confirm") == "yes":
                try:
                    services.swap_cancel(
                        item=item,
                        actor=request.user,
                        reason=form.cleaned_data["reason"],
                        occurred_on=form.cleaned_data["occurred_on"],
                    )
                except DomainError as exc:
                    form.add_error(exc.field if exc.field in form.fields else None, exc.message)
                    status = 400
                else:
                    released = (
                        f"; {item.new_device} is free for another swap" if item.new_device else ""
                    )
                    messages.success(
                        request, f"{_who(item)} cancelled: {form.cleaned_data['reason']}{released}"
                    )
                    return redirect("refresh:wave_detail", pk=wave.pk)
            else:
                confirming = True
        else:
            status = 400
    return render(
        request,
        "refresh/waveitem_cancel.html",
        {
            "wave": wave,
            "item": item,
            "form": form,
            "confirming": confirming,
            "cancellable": item.status in CANCELLABLE,
            "classification": OFFICIAL,
        },
        status=status,
    )
