"""Estate pages. Thin: each view asks a selector and renders."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from devices import selectors


@login_required
def dashboard(request):
    counts = selectors.estate_counts(user=request.user)
    return render(request, "devices/dashboard.html", {"counts": counts})


@login_required
def device_list(request):
    devices = selectors.device_list(user=request.user)[:100]
    return render(request, "devices/device_list.html", {"devices": devices})
