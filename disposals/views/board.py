"""The asset managers' board: a queue per step, search inside a queue, and the bulk
action of each step (above the table, its button repeated below). A refused action
shows the board again with the ticked devices still ticked and a GOV.UK error
summary naming each field and device."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.roles import can_see_commercial, has_role
from core.errors import DomainError
from disposals import forms, selectors, services
from disposals.models import Grade, Route
from disposals.views import common
from disposals.views.common import BOARD_ROLES, READ_ROLES, form_errors, marking, role_required

OPEN_CHUNK = 5000
SEARCH_MAX = 64


def _page(raw) -> int:
    try:
        return min(max(1, int(raw or "1")), 100_000)
    except ValueError:
        return 1


def _queue(raw) -> str:
    return raw if raw in selectors.QUEUE_KEYS else selectors.RETURNED_QUEUE


def _route(raw) -> str:
    return raw if raw in Route.values else ""


def _search(raw) -> str:
    return (raw or "").strip()[:SEARCH_MAX]


def board_url(*, queue: str, route: str = "", q: str = "", page: int = 1) -> str:
    params = {"queue": queue}
    if route:
        params["route"] = route
    if q:
        params["q"] = q
    if page > 1:
        params["page"] = page
    return f"{reverse('disposals:board')}?{urlencode(params)}"


def _board_context(
    request,
    *,
    queue: str,
    route: str,
    q: str = "",
    page: int = 1,
    errors=None,
    action_forms=None,
    selected=(),
    grades=None,
):
    user = request.user
    commercial = can_see_commercial(user)
    counts = selectors.board_counts(user=user)
    page_size = common.BOARD_PAGE_SIZE
    rows = selectors.board_rows(
        user=user, queue=queue, route=route, q=q, limit=page_size, offset=(page - 1) * page_size
    )
    # Searching or filtering by route: the caption counts what was found.
    matches = (
        selectors.board_match_count(user=user, queue=queue, route=route, q=q)
        if q or route
        else counts[queue]
    )
    tabs = [
        {
            "key": key,
            "label": label,
            "count": counts[key],
            "url": board_url(queue=key, q=q),
            "active": key == queue,
        }
        for key, label, _ in selectors.QUEUES
    ]
    action_forms = action_forms or {}
    shows_values = commercial and queue not in (
        selectors.RETURNED_QUEUE,
        "awaiting_sanitisation",
        "sanitised",
    )
    order = selectors.QUEUE_KEYS.index(queue)
    context = {
        "queue": queue,
        # Columns appear from the step that fills them.
        "show_grade": order >= selectors.QUEUE_KEYS.index("value_assessed"),
        "show_route": order >= selectors.QUEUE_KEYS.index("route_chosen"),
        "show_consignment": order >= selectors.QUEUE_KEYS.index("in_consignment"),
        "queue_label": {k: label for k, label, _ in selectors.QUEUES}[queue],
        "route": route,
        "routes": Route.choices,
        "route_filter": order >= selectors.QUEUE_KEYS.index("route_chosen"),
        "q": q,
        "tabs": tabs,
        "rows": rows,
        "row_count": matches,
        "queue_count": counts[queue],
        "limit": page_size,
        "page": page,
        "first_row": (page - 1) * page_size + 1,
        "last_row": (page - 1) * page_size + len(rows),
        "previous_url": board_url(queue=queue, route=route, q=q, page=page - 1)
        if page > 1
        else None,
        "next_url": board_url(queue=queue, route=route, q=q, page=page + 1)
        if (page - 1) * page_size + len(rows) < matches
        else None,
        "commercial": commercial,
        "classification": marking(user, shows_values),
        "errors": errors or [],
        "selected_ids": {int(v) for v in selected},
        "grades": grades or {},
        "grade_errors": {
            field.removeprefix("grade_") for field, _ in errors or [] if field.startswith("grade_")
        },
        "grade_choices": [("", "Choose a grade"), *Grade.choices],
        "sanitise_form": action_forms.get("sanitise") or forms.SanitisationBulkForm(),
        "policy_form": action_forms.get("assess") or forms.GradesForm(devices={}),
        "override_form": action_forms.get("override_route") or forms.OverrideRouteForm(),
        "consign_form": action_forms.get("consign") or forms.ConsignForm(route=route),
    }
    if queue == "awaiting_sanitisation":
        context["reconciled"] = selectors.awaiting_sanitisation_reconciled(user=user)
    return context


@login_required
def board(request):
    """The main disposals page: the asset managers' board. Finance and commercial
    roles, who do not work the queues, land on the summary instead."""
    if not has_role(request.user, *BOARD_ROLES):
        if has_role(request.user, *READ_ROLES):
            return redirect("disposals:summary")
        raise PermissionDenied
    context = _board_context(
        request,
        queue=_queue(request.GET.get("queue")),
        route=_route(request.GET.get("route")),
        q=_search(request.GET.get("q")),
        page=_page(request.GET.get("page")),
    )
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
    """Apply one bulk action to the ticked rows; a refusal shows the board again with
    the same rows ticked and each problem named."""
    user = request.user
    queue = _queue(request.POST.get("queue"))
    route = _route(request.POST.get("route"))
    q = _search(request.POST.get("q"))
    page = _page(request.POST.get("page"))
    selection = forms.BulkSelectionForm(request.POST)
    ticked = [v for v in request.POST.getlist("selected") if v.isdigit()]
    grades = {
        name.removeprefix("grade_"): value
        for name, value in request.POST.items()
        if name.startswith("grade_")
    }
    errors: list[tuple[str, str]] = []
    action_forms = {}
    if request.POST.get("action") == "open_all":
        # Every returned device in the user's scope without a case, in one set-based call.
        ids = list(selectors.returned_devices_without_case(user=user).values_list("pk", flat=True))
        if ids:
            errors, action_forms, done = _run_action(request, "open", ids)
            if done:
                messages.success(request, done)
                return redirect(board_url(queue="awaiting_sanitisation"))
        else:
            errors = [("selected", "There are no returned devices without a case.")]
    elif not selection.is_valid():
        errors = form_errors(selection)
    else:
        action = selection.cleaned_data["action"]
        # Scope: only ids the user can see are passed on; others are silently ignored
        # (they could not have been ticked on this page).
        ids = selection.cleaned_data["selected"]
        if action == "open":
            ids = list(
                selectors.returned_devices_without_case(user=user)
                .filter(pk__in=ids)
                .values_list("pk", flat=True)
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
                return redirect(board_url(queue=queue, route=route, q=q))
    context = _board_context(
        request,
        queue=queue,
        route=route,
        q=q,
        page=page,
        errors=errors,
        action_forms=action_forms,
        selected=ticked,
        grades=grades,
    )
    return render(request, "disposals/board.html", context, status=400)


def _assess(request, ids: list[int]):
    """Grade each ticked device as chosen in its row (no default), then assess."""
    cases = selectors.cases_by_id(user=request.user, case_ids=ids)
    form = forms.GradesForm(
        request.POST, devices={pk: str(cases[pk].device) for pk in ids if pk in cases}
    )
    if not form.is_valid():
        return form_errors(form), {"assess": form}, None
    done = services.assessments_record(
        case_ids=ids,
        grades=form.grades(),
        policy_destruction=form.cleaned_data["policy_destruction"],
        actor=request.user,
    )
    return [], {}, f"Assessed {len(done)} device(s): see them under Value assessed."


def _run_action(request, action: str, ids: list[int]):
    """Returns (errors, bound forms to show again, success message or None)."""
    user = request.user
    form_class = {
        "sanitise": forms.SanitisationBulkForm,
        "override_route": forms.OverrideRouteForm,
        "consign": forms.ConsignForm,
    }.get(action)
    form = None
    if form_class is not None:
        form = form_class(request.POST)
        if not form.is_valid():
            return form_errors(form), {action: form}, None
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
            return [], {}, f"Opened {opened:,} disposal case(s); the devices await sanitisation."
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
                    (name if name in form.fields else "selected", f"{r.label}: {message}")
                    for r in bad
                    for name, msgs in r.errors.items()
                    for message in msgs
                ]
                return errors, {action: form}, None
            return [], {}, f"Recorded {len(results)} sanitisation result(s)."
        if action == "assess":
            return _assess(request, ids)
        if action == "accept_route":
            done = services.routes_decide(case_ids=ids, actor=user)
            chosen = sorted({Route(d.route).label for d in done})
            return (
                [],
                {},
                f"Accepted the suggested route for {len(done)} device(s): {', '.join(chosen)}.",
            )
        if action == "override_route":
            done = services.routes_decide(
                case_ids=ids,
                actor=user,
                route=form.cleaned_data["route"],
                override_reason=form.cleaned_data["override_reason"],
            )
            waiting = sum(1 for d in done if d.needs_sign_off)
            label = Route(form.cleaned_data["route"]).label
            if waiting:
                return (
                    [],
                    {},
                    f"Asked for {label} for {len(done)} device(s); {waiting} valued for resale "
                    "await a finance or commercial officer's sign-off.",
                )
            return [], {}, f"Chose {label} for {len(done)} device(s)."
        if action == "consign":
            consignment = form.cleaned_data["consignment"]
            n = services.consignment_add_cases(consignment=consignment, case_ids=ids, actor=user)
            return [], {}, f"Added {n} device(s) to {consignment}."
    except DomainError as exc:
        return [(_error_field(exc, form), exc.message)], ({action: form} if form else {}), None
    return [("", "Unknown action.")], {}, None


def _error_field(exc: DomainError, form) -> str:
    """Where a service's refusal points on the board: the form field it names, a row's
    grade, or else the ticked devices (the first tick box)."""
    if exc.field and (exc.field.startswith("grade_") or (form and exc.field in form.fields)):
        return exc.field
    return "selected"
