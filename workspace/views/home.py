"""The landing page (``/``): each role lands on its own page, with a "For you" list of
what is waiting for them. Asset managers and unit viewers land on the estate
dashboard; finance and commercial officers on the envelope summary (the full
envelope page stays at ``procurement:dashboard``)."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_GET

from core import exports
from workspace.selectors import home as selectors
from workspace.selectors.for_you import for_you


@login_required
@require_GET
def home(request):
    user = request.user
    context = {"for_you": for_you(user=user)}
    if selectors.lands_on_envelope(user):
        context["envelope"] = selectors.envelope_summary(user=user)
        context["classification"] = (
            exports.OFFICIAL_SENSITIVE_COMMERCIAL if context["envelope"] else exports.OFFICIAL
        )
        return render(request, "workspace/home_finance.html", context)
    context.update(selectors.estate_dashboard(user=user))
    context["classification"] = exports.OFFICIAL
    return render(request, "workspace/home.html", context)
