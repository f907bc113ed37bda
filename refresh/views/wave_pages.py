"""Wave pages: the waves, one wave's swaps, and one swap's steps."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render

from accounts.roles import Role, has_role, require_role
from accounts.scoping import unit_scope
from core.errors import DomainError
from core.exports import OFFICIAL
from refresh import forms, selectors, services
from refresh.models import WaveItem
from refresh.views.common import form_error


@login_required
def wave_list(request):
    scope = unit_scope(request.user)
    form = forms.WaveForm(scope=scope)
    if request.method == "POST":
        require_role(request.user, Role.ASSET_MANAGER)
        form = forms.WaveForm(request.POST, scope=scope)
        if form.is_valid():
            data = form.cleaned_data
            try:
                wave = services.wave_create(
                    name=data["name"],
                    volume=data["volume"],
                    actor=request.user,
                    business_unit=data["business_unit"],
                    category=data["category"],
                    min_priority=data["min_priority"] or 0,
                    scope=scope,
                )
            except DomainError as exc:
                form_error(form, exc)
            else:
                messages.success(request, f"Wave “{wave.name}” created.")
                return redirect("refresh:wave_detail", pk=wave.pk)
    return render(
        request,
        "refresh/refreshwave_list.html",
        {
            "waves": selectors.wave_list(scope=scope)[:200],
            "form": form,
            "can_create": has_role(request.user, Role.ASSET_MANAGER),
            "classification": OFFICIAL,
        },
    )


def _wave_for(request, pk):
    scope = unit_scope(request.user)
    wave = selectors.wave_list(scope=scope).filter(pk=pk).first()
    if wave is None:
        raise Http404
    return wave, scope


@login_required
def wave_detail(request, pk: int):
    wave, scope = _wave_for(request, pk)
    items = list(selectors.wave_items(wave=wave, scope=scope))
    counts = dict.fromkeys(WaveItem.Status.values, 0)
    for item in items:
        counts[item.status] += 1
    return render(
        request,
        "refresh/refreshwave_detail.html",
        {
            "wave": wave,
            "items": items,
            "counts": [(WaveItem.Status(s).label, n) for s, n in counts.items()],
            "can_act": has_role(request.user, Role.ASSET_MANAGER),
            "classification": OFFICIAL,
        },
    )


def _item_for(request, wave_pk, item_pk):
    wave, scope = _wave_for(request, wave_pk)
    item = (
        WaveItem.objects.within(scope)
        .filter(wave=wave, pk=item_pk)
        .select_related("person", "old_device", "new_device", "wave")
        .first()
    )
    if item is None:
        raise Http404
    return wave, item


@login_required
def wave_item_detail(request, pk: int, item_pk: int):
    """One swap: allocate from stock, hand over, record return, confirm AT, complete."""
    wave, item = _item_for(request, pk, item_pk)
    can_act = has_role(request.user, Role.ASSET_MANAGER)
    at_form = forms.ATConfirmForm()
    error = None
    if request.method == "POST":
        require_role(request.user, Role.ASSET_MANAGER)
        action = request.POST.get("action", "")
        try:
            if action == "allocate":
                allocate = forms.AllocateForm(request.POST)
                # Only a device the user may allocate can be chosen; any other id
                # (unknown, out of range, outside their units) is refused as
                # unknown, without naming the device.
                device = (
                    selectors.allocatable_devices(actor=request.user)
                    .filter(pk=allocate.cleaned_data["new_device"])
                    .first()
                    if allocate.is_valid()
                    else None
                )
                if device is None:
                    raise DomainError(services.DEVICE_NOT_FOUND, field="new_device")
                services.swap_allocate(item=item, new_device=device, actor=request.user)
            elif action == "confirm_at":
                at_form = forms.ATConfirmForm(request.POST)
                if not at_form.is_valid():
                    raise DomainError("Say what was checked.", field="note")
                services.swap_confirm_at(
                    item=item, actor=request.user, note=at_form.cleaned_data["note"]
                )
            elif action in services.SWAP_ACTIONS:
                services.SWAP_ACTIONS[action](item=item, actor=request.user)
            else:
                raise DomainError("Unknown action.", field="action")
        except DomainError as exc:
            error = exc
            if exc.field == "note":
                at_form.add_error("note", exc.message)
        else:
            messages.success(request, "Swap updated.")
            return redirect("refresh:wave_item_detail", pk=wave.pk, item_pk=item.pk)
        item.refresh_from_db()
    at_check = selectors.swap_at_check(item=item) if item.person.at_needs else None
    stock = (
        list(selectors.stock_for_item(item=item, scope=unit_scope(request.user)))
        if can_act and item.status == WaveItem.Status.PLANNED
        else []
    )
    return render(
        request,
        "refresh/waveitem_detail.html",
        {
            "wave": wave,
            "item": item,
            "stock": stock,
            "at_check": at_check,
            "at_form": at_form,
            "error": error,
            "can_act": can_act,
            "allowed": services.SWAP_TRANSITIONS[item.status],
            "Status": WaveItem.Status,
            "classification": OFFICIAL,
        },
        status=400 if error else 200,
    )
