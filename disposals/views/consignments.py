"""Consignment pages: the list, opening one, its dispatch, the partner's certificate
and closing it, and its custody certificate (PDF)."""

from __future__ import annotations

from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from accounts.roles import can_see_commercial, has_role
from core.errors import DomainError
from core.exports import OFFICIAL
from disposals import forms, pdf, selectors, services
from disposals.services.certificates import too_large
from disposals.uploads import CertificateLimitHandler
from disposals.views.common import (
    BOARD_ROLES,
    READ_ROLES,
    download,
    form_errors,
    marked,
    marking,
    role_required,
)


@role_required(*READ_ROLES)
def consignment_list(request):
    consignments = list(selectors.consignment_list(user=request.user)[:200])
    commercial = can_see_commercial(request.user)
    return render(
        request,
        "disposals/consignment_list.html",
        {
            "consignments": consignments,
            "commercial": commercial,
            "classification": marking(request.user, True),
            "can_edit": has_role(request.user, *BOARD_ROLES),
        },
    )


@role_required(*BOARD_ROLES)
def consignment_create(request):
    form = forms.ConsignmentCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            consignment = services.consignment_create(
                route=form.cleaned_data["route"],
                partner=form.cleaned_data["partner"],
                actor=request.user,
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"Opened consignment {consignment}.")
            return redirect("disposals:consignment_detail", pk=consignment.pk)
    return render(
        request,
        "disposals/consignment_form.html",
        {"form": form, "classification": OFFICIAL},
        status=400 if form.errors else 200,
    )


def _consignment_context(request, consignment, **extra):
    user = request.user
    commercial = can_see_commercial(user)
    wholly_in_scope = selectors.consignment_wholly_in_scope(user=user, consignment=consignment)
    context = {
        "consignment": consignment,
        "cases": selectors.consignment_cases(user=user, consignment=consignment),
        "commercial": commercial,
        "classification": marking(user, True),
        "can_edit": has_role(user, *BOARD_ROLES) and wholly_in_scope,
        # A scoped asset manager sees why the actions are missing (see the services).
        "others_devices": has_role(user, *BOARD_ROLES) and not wholly_in_scope,
        "dispatch_form": forms.DispatchForm(),
        "certificate_form": forms.CertificateForm(max_bytes=services.certificate_max_bytes()),
        "close_form": forms.CloseForm(),
        "errors": [],
    }
    context.update(extra)
    return context


@role_required(*READ_ROLES)
def consignment_detail(request, pk: int):
    consignment = selectors.consignment_get(user=request.user, pk=pk)
    return render(
        request, "disposals/consignment_detail.html", _consignment_context(request, consignment)
    )


def _consignment_action(request, pk, form, form_key, call):
    """Validate ``form`` and ``call`` the service; on any refusal show the consignment
    again with the GOV.UK error summary."""
    consignment = selectors.consignment_get(user=request.user, pk=pk)
    errors = []
    if form.is_valid():
        try:
            message = call(consignment, form.cleaned_data)
        except DomainError as exc:
            field = exc.field if exc.field in form.fields else ""
            form.add_error(field or None, exc.message)
            errors = form_errors(form)
        else:
            messages.success(request, message)
            return redirect("disposals:consignment_detail", pk=consignment.pk)
    else:
        errors = form_errors(form)
    context = _consignment_context(request, consignment, errors=errors, **{form_key: form})
    return render(request, "disposals/consignment_detail.html", context, status=400)


@require_POST
@role_required(*BOARD_ROLES)
def consignment_dispatch(request, pk: int):
    def call(consignment, data):
        services.consignment_dispatch(consignment=consignment, actor=request.user, **data)
        return f"Recorded the dispatch of {consignment}."

    return _consignment_action(request, pk, forms.DispatchForm(request.POST), "dispatch_form", call)


@csrf_exempt
@require_POST
@role_required(*BOARD_ROLES)
def consignment_certificate(request, pk: int):
    """Upload the partner's certificate. The size limit applies while the request
    streams in (``disposals.uploads``): the limit handler must be in place before the
    body is read, and the CSRF check reads it, so the check runs inside, on the
    protected function below."""
    limit = CertificateLimitHandler(request, limit=services.certificate_max_bytes())
    request.upload_handlers.insert(0, limit)
    return _certificate_upload(request, pk, limit)


@csrf_protect
def _certificate_upload(request, pk: int, limit: CertificateLimitHandler):
    max_bytes = services.certificate_max_bytes()
    files = request.FILES  # reads the body, through the limit handler
    # A file skipped while it streamed in is refused for its size; nothing of it is kept.
    refusal = too_large(limit.oversized, limit.limit).message if limit.oversized else ""
    form = forms.CertificateForm(request.POST, files, max_bytes=max_bytes, refusal=refusal)

    def call(consignment, data):
        services.consignment_certificate_upload(
            consignment=consignment, upload=data["certificate"], actor=request.user
        )
        return "Stored the partner's certificate."

    return _consignment_action(request, pk, form, "certificate_form", call)


@require_POST
@role_required(*BOARD_ROLES)
def consignment_close(request, pk: int):
    def call(consignment, data):
        services.consignment_close(
            consignment=consignment, actor=request.user, proceeds=data.get("proceeds")
        )
        return f"Closed {consignment}: its devices are disposed."

    return _consignment_action(request, pk, forms.CloseForm(request.POST), "close_form", call)


@role_required(*READ_ROLES)
def consignment_partner_certificate(request, pk: int):
    """Download the partner's certificate as uploaded (content type as checked). It
    carries no values of ours: marked OFFICIAL."""
    consignment = selectors.consignment_get(user=request.user, pk=pk)
    if not consignment.certificate:
        raise Http404("No certificate uploaded")
    response = FileResponse(
        consignment.certificate.open("rb"),
        content_type=consignment.certificate_content_type or "application/octet-stream",
        as_attachment=True,
        filename=consignment.certificate.name.rsplit("/", 1)[-1],
    )
    response["X-Content-Type-Options"] = "nosniff"
    return marked(response, OFFICIAL)


@role_required(*READ_ROLES)
def consignment_custody_pdf(request, pk: int):
    consignment = selectors.consignment_get(user=request.user, pk=pk)
    cases = selectors.consignment_cases(user=request.user, consignment=consignment)
    commercial = can_see_commercial(request.user)
    # Values (proceeds) appear only on a resale consignment and only for commercial roles.
    shows_values = commercial and consignment.route == "resale"
    mark = marking(request.user, shows_values)
    body = pdf.consignment_certificate(
        consignment=consignment, cases=cases, show_values=shows_values, marking=mark
    )
    return download(
        body,
        filename=f"custody-{consignment.reference}.pdf",
        content_type="application/pdf",
        mark=mark,
    )
