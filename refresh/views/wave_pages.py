"""Wave pages: the waves and one wave's swaps (a swap's own pages: ``swap_pages``)."""

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
