"""Disposal pages. Thin: each view checks the role, asks a selector or calls a
service, and renders. Scope is applied by the selectors, through the models'
``visible_to`` (out of scope is a 404)."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.roles import Role, can_see_commercial, has_role, require_role
from core.errors import DomainError
from core.exports import OFFICIAL, classification, csv_bytes
from core.financial_year import FinancialYear, current_financial_year
from disposals import forms, pdf, selectors, services
from disposals.models import ResidualValueRule, Route

BOARD_ROLES = (Role.ASSET_MANAGER,)
READ_ROLES = (Role.ASSET_MANAGER, Role.FINANCE, Role.COMMERCIAL)
CUSTODY_ROLES = (Role.ASSET_MANAGER, Role.FINANCE, Role.COMMERCIAL, Role.UNIT_VIEWER)


def role_required(*roles):
    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(request, *args, **kwargs):
            require_role(request.user, *roles)
            return view(request, *args, **kwargs)

        return wrapped

    return decorator


def _marking(user, shows_values: bool) -> str:
    return classification(commercial=shows_values and can_see_commercial(user))


# ---------------------------------------------------------------------------
# Board
# ---------------------------------------------------------------------------


PAGE_SIZE = 200
OPEN_CHUNK = 5000


def _page(request) -> int:
    try:
        return max(1, int(request.GET.get("page", "1")))
    except ValueError:
        return 1


def _board_context(
    request, *, queue: str, route: str, errors=None, action_forms=None, page: int = 1
):
    user = request.user
    commercial = can_see_commercial(user)
    counts = selectors.board_counts(user=user)
    rows = selectors.board_rows(
        user=user, queue=queue, route=route, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    tabs = [
        {
            "key": key,
            "label": label,
            "count": counts[key],
            "url": f"{reverse('disposals:board')}?queue={key}",
            "active": key == queue,
        }
        for key, label, _ in selectors.QUEUES
    ]
    action_forms = action_forms or {}
    shows_values = commercial and queue not in (selectors.RETURNED_QUEUE, "awaiting_sanitisation")
    order = selectors.QUEUE_KEYS.index(queue)
    return {
        "queue": queue,
        # Columns appear from the step that fills them.
        "show_grade": order >= selectors.QUEUE_KEYS.index("value_assessed"),
        "show_route": order >= selectors.QUEUE_KEYS.index("route_chosen"),
        "show_consignment": order >= selectors.QUEUE_KEYS.index("in_consignment"),
        "queue_label": {k: label for k, label, _ in selectors.QUEUES}[queue],
        "route": route,
        "routes": Route.choices,
        "tabs": tabs,
        "rows": rows,
        "row_count": counts[queue],
        "limit": PAGE_SIZE,
        "page": page,
        "first_row": (page - 1) * PAGE_SIZE + 1,
        "last_row": (page - 1) * PAGE_SIZE + len(rows),
        "previous_page": page - 1 if page > 1 else None,
        # The queue's count ignores the route filter, so "next" may lead to an empty page.
        "next_page": page + 1 if len(rows) == PAGE_SIZE else None,
        "commercial": commercial,
        "classification": _marking(user, shows_values),
        "errors": errors or [],
        "sanitise_form": action_forms.get("sanitise") or forms.SanitisationBulkForm(),
        "assess_form": action_forms.get("assess") or forms.AssessForm(),
        "override_form": action_forms.get("override_route") or forms.OverrideRouteForm(),
        "consign_form": action_forms.get("consign") or forms.ConsignForm(route=route),
    }


@login_required
def board(request):
    """The main disposals page: the asset managers' board. Finance and commercial
    roles, who do not work the queues, land on the summary instead."""
    if not has_role(request.user, *BOARD_ROLES):
        if has_role(request.user, *READ_ROLES):
            return redirect("disposals:summary")
        raise PermissionDenied
    queue = request.GET.get("queue", selectors.RETURNED_QUEUE)
    if queue not in selectors.QUEUE_KEYS:
        queue = selectors.RETURNED_QUEUE
    route = request.GET.get("route", "")
    if route not in Route.values:
        route = ""
    context = _board_context(request, queue=queue, route=route, page=_page(request))
    return render(request, "disposals/board.html", context)


def _sanitisation_items(user, ids: list[int], data: dict) -> list[services.SanitisationInput]:
    """One input per case the user may see, its device named in the certificate reference."""
    cases = selectors.cases_by_id(user=user, case_ids=ids)
    items = []
    for case_id in ids:
        case = cases.get(case_id)
        if case is None:
            continue
        label = str(case.device)
        items.append(
            services.SanitisationInput(
                device_id=case.device_id,
                method=data["method"],
                standard=data["standard"],
                tool=data["tool"],
                tool_version=data.get("tool_version", ""),
                operator=data["operator"],
                verifier=data["verifier"],
                performed_at=data["performed_at"],
                result=data["result"],
                certificate_ref=f"{data['certificate_ref']}/{label}",
                label=label,
            )
        )
    return items


@require_POST
@role_required(*BOARD_ROLES)
def board_bulk(request):
    """Apply one bulk action to the ticked rows; errors re-render the board."""
    user = request.user
    selection = forms.BulkSelectionForm(request.POST)
    queue = request.POST.get("queue", selectors.RETURNED_QUEUE)
    if queue not in selectors.QUEUE_KEYS:
        queue = selectors.RETURNED_QUEUE
    route = request.POST.get("route", "")
    route = route if route in Route.values else ""
    errors: list[tuple[str, str]] = []
    action_forms = {}
    if request.POST.get("action") == "open_all":
        # Every returned device in the user's scope without a case, in one set-based call.
        ids = list(selectors.returned_devices_without_case(user=user).values_list("pk", flat=True))
        if ids:
            errors, action_forms, done = _run_action(request, "open", ids)
            if done:
                messages.success(request, done)
                return redirect(f"{reverse('disposals:board')}?queue=awaiting_sanitisation")
        else:
            errors = [("selected", "There are no returned devices without a case.")]
    elif not selection.is_valid():
        errors = [(f, m) for f, ms in selection.errors.items() for m in ms]
    else:
        action = selection.cleaned_data["action"]
        # Scope: only ids the user can see are passed on; others are silently ignored
        # (they could not have been ticked on this page).
        ids = selection.cleaned_data["selected"]
        if action == "open":
            ids = (
                list(
                    selectors.returned_devices_without_case(user=user)
                    .filter(pk__in=ids)
                    .values_list("pk", flat=True)
                )
                or ids[:0]
            )
        else:
            ids = list(
                selectors.case_list(user=user).filter(pk__in=ids).values_list("pk", flat=True)
            )
        if not ids:
            errors = [("selected", "Select at least one device in your scope.")]
        else:
            errors, action_forms, done = _run_action(request, action, ids)
            if done:
                messages.success(request, done)
                url = f"{reverse('disposals:board')}?queue={queue}"
                return redirect(f"{url}&route={route}" if route else url)
    context = _board_context(
        request, queue=queue, route=route, errors=errors, action_forms=action_forms
    )
    return render(request, "disposals/board.html", context, status=400)


def _run_action(request, action: str, ids: list[int]):
    """Returns (errors, bound forms to re-show, success message or None)."""
    user = request.user
    form_class = {
        "sanitise": forms.SanitisationBulkForm,
        "assess": forms.AssessForm,
        "override_route": forms.OverrideRouteForm,
        "consign": forms.ConsignForm,
    }.get(action)
    form = None
    if form_class is not None:
        form = form_class(request.POST)
        if not form.is_valid():
            return [(f, m) for f, ms in form.errors.items() for m in ms], {action: form}, None
    try:
        if action == "open":
            opened = 0
            # One transaction, in chunks: "open all" may cover tens of thousands of devices
            # and each statement's id list must stay within SQLite's parameter limit.
            with transaction.atomic():
                for start in range(0, len(ids), OPEN_CHUNK):
                    opened += len(
                        services.disposal_cases_open(
                            device_ids=ids[start : start + OPEN_CHUNK], actor=user, source="web"
                        )
                    )
            return [], {}, f"Opened {opened} disposal case(s); devices await sanitisation."
        if action == "sanitise":
            results = services.sanitisation_records_record(
                items=_sanitisation_items(user, ids, form.cleaned_data),
                actor=user,
                source="web",
                all_or_nothing=True,
            )
            bad = [r for r in results if not r.ok]
            if bad:
                errors = [
                    (name, f"{r.label}: {message}")
                    for r in bad
                    for name, msgs in r.errors.items()
                    for message in msgs
                ]
                return errors, {action: form}, None
            return [], {}, f"Recorded {len(results)} sanitisation result(s)."
        if action == "assess":
            done = services.assessments_record(
                case_ids=ids,
                grade=form.cleaned_data["grade"],
                policy_destruction=form.cleaned_data["policy_destruction"],
                actor=user,
            )
            return [], {}, f"Assessed {len(done)} device(s)."
        if action == "accept_route":
            done = services.routes_decide(case_ids=ids, actor=user)
            return [], {}, f"Accepted the suggested route for {len(done)} device(s)."
        if action == "override_route":
            done = services.routes_decide(
                case_ids=ids,
                actor=user,
                route=form.cleaned_data["route"],
                override_reason=form.cleaned_data["override_reason"],
            )
            return (
                [],
                {},
                f"Chose {Route(form.cleaned_data['route']).label} for {len(done)} device(s).",
            )
        if action == "consign":
            consignment = form.cleaned_data["consignment"]
            n = services.consignment_add_cases(consignment=consignment, case_ids=ids, actor=user)
            return [], {}, f"Added {n} device(s) to {consignment}."
    except DomainError as exc:
        return [(exc.field or "selected", exc.message)], ({action: form} if form else {}), None
    return [("action", "Unknown action.")], {}, None


# ---------------------------------------------------------------------------
# Consignments
# ---------------------------------------------------------------------------


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
            "classification": _marking(request.user, True),
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
        "classification": _marking(user, True),
        "can_edit": has_role(user, *BOARD_ROLES) and wholly_in_scope,
        # A scoped asset manager sees why the actions are missing (see the services).
        "others_devices": has_role(user, *BOARD_ROLES) and not wholly_in_scope,
        "dispatch_form": forms.DispatchForm(initial={"dispatch_date": timezone.localdate()}),
        "certificate_form": forms.CertificateForm(),
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


def _consignment_action(request, pk, form_class, form_key, call):
    consignment = selectors.consignment_get(user=request.user, pk=pk)
    form = form_class(request.POST, request.FILES)
    errors = []
    if form.is_valid():
        try:
            message = call(consignment, form.cleaned_data)
        except DomainError as exc:
            errors = [(exc.field or "", exc.message)]
        else:
            messages.success(request, message)
            return redirect("disposals:consignment_detail", pk=consignment.pk)
    else:
        errors = [(f, m) for f, ms in form.errors.items() for m in ms]
    context = _consignment_context(request, consignment, errors=errors, **{form_key: form})
    return render(request, "disposals/consignment_detail.html", context, status=400)


@require_POST
@role_required(*BOARD_ROLES)
def consignment_dispatch(request, pk: int):
    def call(consignment, data):
        services.consignment_dispatch(consignment=consignment, actor=request.user, **data)
        return f"Recorded the dispatch of {consignment}."

    return _consignment_action(request, pk, forms.DispatchForm, "dispatch_form", call)


@require_POST
@role_required(*BOARD_ROLES)
def consignment_certificate(request, pk: int):
    def call(consignment, data):
        services.consignment_certificate_upload(
            consignment=consignment, upload=data["certificate"], actor=request.user
        )
        return "Stored the partner's certificate."

    return _consignment_action(request, pk, forms.CertificateForm, "certificate_form", call)


@require_POST
@role_required(*BOARD_ROLES)
def consignment_close(request, pk: int):
    def call(consignment, data):
        services.consignment_close(
            consignment=consignment, actor=request.user, proceeds=data.get("proceeds")
        )
        return f"Closed {consignment}: its devices are disposed."

    return _consignment_action(request, pk, forms.CloseForm, "close_form", call)


@role_required(*READ_ROLES)
def consignment_partner_certificate(request, pk: int):
    """Download the partner's certificate as uploaded (content type as checked)."""
    consignment = selectors.consignment_get(user=request.user, pk=pk)
    if not consignment.certificate:
        raise Http404("No certificate uploaded")
    return FileResponse(
        consignment.certificate.open("rb"),
        content_type=consignment.certificate_content_type,
        as_attachment=True,
        filename=consignment.certificate.name.rsplit("/", 1)[-1],
    )


@role_required(*READ_ROLES)
def consignment_custody_pdf(request, pk: int):
    consignment = selectors.consignment_get(user=request.user, pk=pk)
    cases = selectors.consignment_cases(user=request.user, consignment=consignment)
    commercial = can_see_commercial(request.user)
    body = pdf.consignment_certificate(
        consignment=consignment,
        cases=cases,
        show_values=commercial,
        marking=_marking(request.user, True),
    )
    return _pdf_response(body, f"custody-{consignment.reference}.pdf")


def _pdf_response(body: bytes, filename: str) -> HttpResponse:
    response = HttpResponse(body, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


# ---------------------------------------------------------------------------
# Sign-off of overrides away from a suggested resale
# ---------------------------------------------------------------------------

SIGN_OFF_PAGE_SIZE = 200


@role_required(*READ_ROLES)
def route_sign_offs(request):
    """Overrides away from a suggested resale awaiting sign-off. Finance and
    commercial officers sign them off here; the service decides who may (not the
    requester, only those roles), so a refusal is shown as an error."""
    errors = []
    if request.method == "POST":
        ids = [int(v) for v in request.POST.getlist("selected") if v.isdigit()]
        # Scope: only cases the user can see are passed on.
        ids = list(
            selectors.case_list(user=request.user).filter(pk__in=ids).values_list("pk", flat=True)
        )
        if not ids:
            errors = [("selected", "Select at least one override in your scope.")]
        else:
            try:
                done = services.route_overrides_sign_off(
                    case_ids=ids, approver=request.user, source="web"
                )
            except DomainError as exc:
                errors = [(exc.field or "selected", exc.message)]
            else:
                messages.success(request, f"Signed off {len(done)} route override(s).")
                return redirect("disposals:route_sign_offs")
    pending = list(selectors.overrides_awaiting_sign_off(user=request.user)[:SIGN_OFF_PAGE_SIZE])
    commercial = can_see_commercial(request.user)
    return render(
        request,
        "disposals/route_sign_offs.html",
        {
            "decisions": pending,
            "errors": errors,
            "commercial": commercial,
            "can_sign_off": has_role(request.user, Role.FINANCE, Role.COMMERCIAL),
            "classification": _marking(request.user, True),
        },
        status=400 if errors else 200,
    )


# ---------------------------------------------------------------------------
# Custody
# ---------------------------------------------------------------------------


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
            "can_sign_off": has_role(request.user, Role.FINANCE, Role.COMMERCIAL),
            "classification": _marking(request.user, chain["assessment"] is not None),
            "now": timezone.now(),
        },
    )


@role_required(*CUSTODY_ROLES)
def device_custody_pdf(request, device_id: int):
    chain = selectors.custody_chain(user=request.user, device_id=device_id)
    commercial = can_see_commercial(request.user)
    body = pdf.device_certificate(
        chain=chain,
        show_values=commercial,
        marking=_marking(request.user, chain["assessment"] is not None),
    )
    return _pdf_response(body, f"custody-{chain['device']}.pdf")


@role_required(*CUSTODY_ROLES)
def device_lookup(request):
    """Find a device's custody page by asset tag or serial number."""
    q = request.GET.get("q", "").strip()
    if q:
        match = selectors.device_id_for_tag_or_serial(user=request.user, q=q)
        if match:
            return redirect("disposals:device_custody", device_id=match)
        messages.error(request, f"No device in your scope has asset tag or serial {q}.")
    return redirect(
        "disposals:board" if has_role(request.user, *BOARD_ROLES) else "disposals:summary"
    )


# ---------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------


def _summary_fy(request) -> FinancialYear:
    label = request.GET.get("fy", "")
    try:
        return FinancialYear.parse(label) if label else current_financial_year()
    except ValueError:
        return current_financial_year()


@role_required(*READ_ROLES)
def summary(request):
    fy = _summary_fy(request)
    commercial = can_see_commercial(request.user)
    data = selectors.disposal_summary(user=request.user, fy=fy, commercial=commercial)
    marking = classification(commercial=data["income_shown"])
    if request.GET.get("format") == "csv":
        header = ["Category", *data["columns"], "Total devices", "Estimated weight (kg)"]
        rows = [[r["label"], *r["by_route"], r["total"], r["weight_kg"]] for r in data["rows"]]
        rows.append(["Total", *data["totals"], data["total"], data["total_weight_kg"]])
        if data["income_shown"]:
            rows.append(["Resale income (£)", data["resale_income"]])
        body = csv_bytes(header=header, rows=rows, marking=marking, period=fy.label)
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        name = f"disposals-{fy.label.replace('/', '-')}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    current = current_financial_year()
    years = [FinancialYear(current.start_year - i) for i in range(4)]
    return render(
        request,
        "disposals/summary.html",
        {**data, "classification": marking, "years": years, "commercial": commercial},
    )


# ---------------------------------------------------------------------------
# The residual-value rule (finance)
# ---------------------------------------------------------------------------

RULE_ROLES = (Role.FINANCE,)


@role_required(*RULE_ROLES)
def value_rule(request):
    """The rule in force and its history; finance adds a new rule from a date."""
    current = services.residual_value_rule_current(on_date=timezone.localdate())
    initial = {
        f.name: getattr(current, f.name)
        for f in ResidualValueRule._meta.fields
        if f.name not in ("id", "effective_from")
    }
    form = forms.ResidualValueRuleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            rule = services.residual_value_rule_create(
                rule=form.save(commit=False), actor=request.user
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, f"Saved {rule}.")
            return redirect("disposals:value_rule")
    return render(
        request,
        "disposals/residualvaluerule_form.html",
        {
            "form": form,
            "current": current,
            "rules": ResidualValueRule.objects.all()[:20],
            # The rule's thresholds are commercial figures.
            "classification": classification(commercial=True),
        },
        status=400 if form.errors else 200,
    )
