"""The device page: one device, its lifecycle timeline and field-level history."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from accounts.roles import can_see_commercial
from core import exports
from devices import selectors
from devices.models import Device


@login_required
@require_GET
def device_detail(request, pk: int):
    """A device, its lifecycle timeline and field-level history. Out of scope is a 404."""
    device = selectors.device_get(user=request.user, pk=pk)
    if device is None:
        raise Http404("No such device in your scope.")
    commercial = can_see_commercial(request.user)
    statuses = dict(Device.Status.choices)
    events = list(selectors.device_events(device=device).reverse())  # newest first
    for event in events:
        event.from_label = statuses.get(event.from_status, event.from_status)
        event.to_label = statuses.get(event.to_status, event.to_status)
        details = event.details if isinstance(event.details, dict) else {"details": event.details}
        event.detail_items = [
            (str(key).replace("_", " ").capitalize(), value) for key, value in details.items()
        ]
    return render(
        request,
        "devices/device_detail.html",
        {
            "device": device,
            "events": events,
            "changes": selectors.device_change_history(user=request.user, device=device),
            "at_checks": list(selectors.device_at_checks(device=device)),
            "show_commercial": commercial,
            "classification": exports.classification(commercial=commercial),
        },
    )
