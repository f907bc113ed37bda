"""A device's chain of custody: the page, its PDF certificate, and finding a device
by asset tag or serial number."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone

from accounts.roles import can_see_commercial, has_role
from disposals import pdf, selectors
from disposals.views.common import (
    BOARD_ROLES,
    CUSTODY_ROLES,
    SIGN_OFF_ROLES,
    download,
    marking,
    role_required,
)


def _shows_values(chain: dict) -> bool:
    """The custody record carries a value when the device was assessed."""
    return chain["assessment"] is not None


@role_required(*CUSTODY_ROLES)
def device_custody(request, device_id: int):
    chain = selectors.custody_chain(user=request.user, device_id=device_id)
    commercial = can_see_commercial(request.user)
    return render(
        request,
        "disposals/device_custody.html",
        {
            **chain,
            "commercial": commercial,
            "can_sign_off": has_role(request.user, *SIGN_OFF_ROLES),
            "classification": marking(request.user, _shows_values(chain)),
            "now": timezone.now(),
        },
    )


@role_required(*CUSTODY_ROLES)
def device_custody_pdf(request, device_id: int):
    chain = selectors.custody_chain(user=request.user, device_id=device_id)
    commercial = can_see_commercial(request.user)
    mark = marking(request.user, _shows_values(chain))
    body = pdf.device_certificate(chain=chain, show_values=commercial, marking=mark)
    return download(
        body,
        filename=f"custody-{chain['device'].asset_tag or chain['device'].pk}.pdf",
        content_type="application/pdf",
        mark=mark,
    )


@role_required(*CUSTODY_ROLES)
def device_lookup(request):
    """Find a device's custody page by asset tag or serial number."""
    q = request.GET.get("q", "").strip()[:100]
    if q:
        match = selectors.device_id_for_tag_or_serial(user=request.user, q=q)
        if match:
            return redirect("disposals:device_custody", device_id=match)
        messages.error(request, f"No device in your scope has asset tag or serial {q}.")
    return redirect(
        "disposals:board" if has_role(request.user, *BOARD_ROLES) else "disposals:summary"
    )
