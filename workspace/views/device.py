"""The device page: one device as every app knows it, with the actions the
viewer's role may take on it (``workspace.views.device_actions``). Thin: the
selector gathers, the template shows."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_GET

from core import exports
from workspace.forms import device as forms
from workspace.selectors.device import device_page


def inline_forms(page, user) -> dict:
    """The forms the page itself carries (deploy, note, AT check confirmation), each
    unbound with its own prefix; the other actions link to their own page."""
    device = page.device
    if not page.can_act:
        return {}
    made = {}
    if "deploy" in page.actions:
        made["deploy_form"] = forms.DeployForm(device=device, user=user)
    if "note" in page.actions:
        made["note_form"] = forms.NoteForm(device=device, user=user)
    if "at_check" in page.actions:
        made["at_check_forms"] = {
            # One form per pending check, posting the same field names; the ids differ.
            check.pk: forms.ATCheckForm(
                device=device,
                user=user,
                auto_id=f"id_at_check_{check.pk}_%s",
                initial={"check": check.pk},
            )
            for check in page.at_checks
            if check.pending
        }
    return made


@login_required
@require_GET
def device_detail(request, pk: int):
    """A device: details, refresh status, the holder's entitlement, AT checks, its
    disposal case, its timeline and field history, and (for asset managers) what
    can be done to it. Outside the viewer's scope it is a 404."""
    page = device_page(user=request.user, pk=pk)
    if page is None:
        raise Http404("No such device in your scope.")
    return render(
        request,
        "workspace/device.html",
        {
            "page": page,
            "device": page.device,
            "show_commercial": page.commercial,
            "classification": exports.classification(commercial=page.commercial),
            **inline_forms(page, request.user),
        },
    )
