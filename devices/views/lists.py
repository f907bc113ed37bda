"""The device list: its page, its CSV, its column chooser and its bulk actions (the
estate dashboard is the landing page, ``workspace.views.home``). Thin: each view
validates its input, asks a selector or a service and renders."""

from __future__ import annotations

import csv
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import (
    Http404,
    HttpResponse,
    HttpResponseRedirect,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from accounts.scoping import unit_scope
from core import exports
from core.errors import DomainError
from devices import list_actions, listing, selectors
from devices.forms import (
    BulkConfirmForm,
    DeviceColumnsForm,
    DeviceFilterForm,
    DeviceSelectionForm,
    filter_tags,
)
from devices.models import Device

COLUMNS_SESSION_KEY = "device_list_columns"
# What a row of the list can show: loading only these keeps a page of 100 rows (500
# model instances with the joined model, maker, unit and holder) cheap to build.
LIST_FIELDS = (
    "asset_tag",
    "serial_number",
    "status",
    "historical",
    "location",
    "purchase_date",
    "warranty_expires",
    "last_seen",
    "os_version",
    "device_model__name",
    "device_model__category",
    "manufacturer__name",
    "business_unit__name",
    "assigned_to__staff_number",
)


def chosen_columns(request) -> list[str]:
    saved = request.session.get(COLUMNS_SESSION_KEY)
    if not isinstance(saved, list):
        return list(listing.DEFAULT_COLUMNS)
    return [key for key in listing.COLUMNS if key in saved]


def _query(params, **changes) -> str:
    """``?query`` of ``params`` with ``changes`` (a None value removes the key)."""
    merged = {k: v for k, v in params.items() if v}
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return f"?{urlencode(merged)}" if merged else "?"


@login_required
@require_GET
def device_list(request):
    """Find any device: search, filters, sortable columns, keyset pages of 100, the total,
    CSV of the filtered list; ticked devices go to the bulk actions."""
    form = DeviceFilterForm(request.GET, user=request.user)
    wants_csv = request.GET.get("format") == "csv"
    if not form.is_valid():
        if wants_csv:
            problems = [str(e) for e in form.non_field_errors()] + [
                f"{form.fields[name].label}: {error}"
                for name, errors in form.errors.items()
                if name != "__all__"
                for error in errors
            ]
            return HttpResponse(
                "\n".join(problems) + "\n", status=400, content_type="text/plain; charset=utf-8"
            )
        return render(
            request,
            "devices/device_list.html",
            {"form": form, "devices": [], "invalid": True, "classification": exports.OFFICIAL},
            status=400,
        )

    filters = form.filters
    queryset = selectors.device_search(
        user=request.user,
        q=filters.q,
        business_unit=filters.business_unit,
        category=filters.category,
        status=filters.status,
        device_model=filters.device_model,
    )
    if wants_csv:
        return _device_csv(queryset)

    queryset = queryset.only(*LIST_FIELDS)
    sort = listing.SORTS.get(form.cleaned_data["sort"], listing.ADDED)
    descending = form.cleaned_data["order"] == "desc"
    scope = unit_scope(request.user)
    try:
        page = listing.list_page(
            queryset=queryset,
            scope=scope,
            filters=filters,
            sort=sort,
            descending=descending,
            after=request.GET.get("after") or None,
            before=request.GET.get("before") or None,
        )
    except listing.BadCursor:
        form.add_error(None, "This page link no longer matches the list: start from the first page")
        return render(
            request,
            "devices/device_list.html",
            {"form": form, "devices": [], "invalid": True, "classification": exports.OFFICIAL},
            status=400,
        )
    params = {k: v for k, v in request.GET.items() if k not in form.PAGE_PARAMETERS}
    columns = chosen_columns(request)
    headers = [{"key": "asset_tag", "label": "Asset tag", "sort": "asset_tag"}] + [
        {"key": c.key, "label": c.label, "sort": c.sort}
        for c in (listing.COLUMNS[k] for k in columns)
    ]
    for header in headers:
        if header["sort"]:
            active = header["sort"] == sort.key
            header["aria_sort"] = (
                ("descending" if descending else "ascending") if active else "none"
            )
            header["url"] = _query(
                params,
                sort=header["sort"],
                order="asc" if active and descending else ("desc" if active else None),
            )
    return render(
        request,
        "devices/device_list.html",
        {
            "form": form,
            "page": page,
            "devices": page.rows,
            "total": listing.list_total(scope=scope, filters=filters, queryset=queryset),
            "sort": sort,
            "descending": descending,
            "headers": headers,
            "columns": columns,
            "show": dict.fromkeys(columns, True),
            # More than the default columns: the filter goes above the table (wider).
            "wide": len(columns) > len(listing.DEFAULT_COLUMNS),
            "columns_form": DeviceColumnsForm(
                initial={"columns": columns, "back": _query(params)[1:]}
            ),
            "bulk_actions": _bulk_actions(request.user),
            "may_move": list_actions.may_move_devices(request.user),
            "selected": filter_tags(form, params),
            "next_url": _query(params, after=page.next_cursor) if page.next_cursor else None,
            "previous_url": (
                _query(params, before=page.previous_cursor) if page.previous_cursor else None
            ),
            "csv_url": _query(params, format="csv"),
            "page_size": listing.PAGE_SIZE,
            "next_label": f"Next {listing.PAGE_SIZE}",
            "classification": exports.OFFICIAL,
        },
    )


def _back_to_list(back: str) -> str:
    """The list's URL with a query string from a form, keeping only the list's own
    parameters (the path is fixed: never a redirect elsewhere)."""
    query = QueryDict(back or "")
    known = set(DeviceFilterForm.base_fields)
    kept = [(k, v) for k, v in query.items() if k in known and v]
    url = reverse("devices:device_list")
    return f"{url}?{urlencode(kept)}" if kept else url


@login_required
@require_POST
def device_list_columns(request):
    """Save the column choice for this session and go back to the list."""
    form = DeviceColumnsForm(request.POST)
    if form.is_valid():
        request.session[COLUMNS_SESSION_KEY] = form.cleaned_data["columns"]
        messages.success(request, "Columns updated.")
    return HttpResponseRedirect(_back_to_list(request.POST.get("back", "")))


def _bulk_actions(user) -> list[tuple[str, str]]:
    actions = [("export", "Download selected as CSV")]
    if list_actions.may_move_devices(user):
        actions = [(m.key, m.label) for m in list_actions.BULK_MOVES.values()] + actions
    return actions


@login_required
@require_POST
def device_bulk(request):
    """Ticked devices from the list: download them, or (asset managers) confirm a status
    move with a reason, then make it through ``devices.list_actions``.

    Devices the user cannot see are "not found" (404), whoever else holds them.
    """
    if request.POST.get("action") in list_actions.BULK_MOVES and not (
        list_actions.may_move_devices(request.user)
    ):
        raise PermissionDenied("Only asset managers change devices' status.")
    actions = _bulk_actions(request.user)
    back = request.POST.get("back", "")
    confirming = "confirm" in request.POST
    form = (BulkConfirmForm if confirming else DeviceSelectionForm)(request.POST, actions=actions)
    if not form.is_valid() and not (confirming and form.cleaned_data.get("device")):
        for errors in form.errors.values():
            messages.error(request, errors[0])
            break
        return HttpResponseRedirect(_back_to_list(back))
    ids = form.cleaned_data["device"]
    action = form.cleaned_data.get("action") or request.POST.get("action", "")
    try:
        if action == "export":
            devices = list_actions.selected_devices(user=request.user, device_ids=ids)
            return _device_csv(
                selectors.device_list(user=request.user).filter(pk__in=[d.pk for d in devices]),
                name="devices-selected",
            )
        plan = list_actions.bulk_move_plan(user=request.user, device_ids=ids, action=action)
        if not confirming:
            return _bulk_confirm_page(request, plan, back, BulkConfirmForm(actions=actions))
        if not form.is_valid():
            return _bulk_confirm_page(request, plan, back, form, status=400)
        moved = list_actions.devices_bulk_move(
            user=request.user, device_ids=ids, action=action, reason=form.cleaned_data["reason"]
        )
    except DomainError as exc:
        if exc.code == "not_found":
            raise Http404(exc.message) from exc
        if confirming:
            try:  # the selection as it is now, with the refusal above the form
                plan = list_actions.bulk_move_plan(user=request.user, device_ids=ids, action=action)
            except DomainError:
                plan = None
            if plan is not None:
                form.add_error("reason" if exc.field == "reason" else None, exc.message)
                return _bulk_confirm_page(request, plan, back, form, status=400)
        messages.error(request, exc.message)
        return HttpResponseRedirect(_back_to_list(back))
    move = list_actions.BULK_MOVES[action]
    messages.success(request, f"{moved:,} device{'s' if moved != 1 else ''} {move.done}.")
    return HttpResponseRedirect(_back_to_list(back))


def _bulk_confirm_page(request, plan, back: str, form, status: int = 200):
    """The confirmation of a bulk move: which devices will move, which cannot (and
    why), and the reason to record."""
    return render(
        request,
        "devices/device_bulk_confirm.html",
        {
            "form": form,
            "plan": plan,
            "back": back,
            "back_url": _back_to_list(back),
            "classification": exports.OFFICIAL,
        },
        status=status,
    )


CSV_HEADER = [
    "Asset tag",
    "Serial number",
    "Manufacturer",
    "Model",
    "Category",
    "Status",
    "Business unit",
    "Business unit code",
    "Assigned to (staff number)",
    "Location",
    "Purchase date",
    "Warranty expires",
    "Last seen",
    "OS version",
]


class _Echo:
    def write(self, value):
        return value


def _device_csv(queryset, name: str = "devices"):
    """Stream the devices as CSV, marked OFFICIAL (no commercial columns), in the order
    they were added.

    Rows come from ``values_list(...).iterator()`` so memory stays flat for the
    whole estate; every cell goes through core.exports (formula neutralisation).
    """
    rows = (
        queryset.order_by("id")
        .values_list(
            "asset_tag",
            "serial_number",
            "manufacturer__name",
            "device_model__name",
            "device_model__category",
            "status",
            "business_unit__name",
            "business_unit__code",
            "assigned_to__staff_number",
            "location",
            "purchase_date",
            "warranty_expires",
            "last_seen",
            "os_version",
        )
        .iterator(chunk_size=2000)
    )
    statuses = dict(Device.Status.choices)
    writer = csv.writer(_Echo(), lineterminator="\r\n")

    def generate():
        yield "\ufeff"  # UTF-8 BOM so Excel reads it as UTF-8
        yield writer.writerow([f"Classification: {exports.OFFICIAL}"])
        yield writer.writerow(CSV_HEADER)
        for row in rows:
            row = list(row)
            row[5] = statuses.get(row[5], row[5])
            yield writer.writerow([exports.csv_cell(v) for v in row])

    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(generate(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}-{stamp}.csv"'
    return response
