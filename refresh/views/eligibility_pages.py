"""Eligibility pages: the priority list, its exports and the recompute button."""

from __future__ import annotations

import csv
import tempfile

import xlsxwriter
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.roles import Role, has_role, require_role
from accounts.scoping import unit_scope
from core.exports import OFFICIAL, csv_cell, neutralise
from core.middleware import CLASSIFICATION_HEADER
from refresh import forms, selectors, services
from refresh.models import MAX_ID

PAGE_SIZE = 100


def _after(request) -> tuple[int, int] | None:
    """The keyset cursor ``after=<priority>:<device id>``, None when absent or malformed."""
    try:
        priority, device_id = (int(x) for x in request.GET.get("after", "")[:40].split(":"))
    except ValueError:
        return None
    # Out of the columns' range is as malformed as text: it would overflow the driver.
    if not (-(2**31) <= priority < 2**31 and 0 < device_id <= MAX_ID):
        return None
    return priority, device_id


def _eligibility_query(request, scope, *, after=None):
    """The filter form and the filtered, scoped eligibility rows."""
    form = forms.EligibilityFilterForm(request.GET or None, scope=scope)
    filters = {"business_unit": None, "category": "", "show": "due"}
    if form.is_valid():
        filters.update({k: v for k, v in form.cleaned_data.items() if v})
    qs = selectors.eligibility_list(
        scope=scope,
        business_unit=filters["business_unit"],
        category=filters["category"],
        due_only=filters["show"] == "due",
        reclaim=filters["show"] == "reclaim",
        after=after,
    )
    return form, qs


@login_required
def eligibility(request):
    """Devices due for refresh (or idle for reclaim), by priority, keyset-paginated."""
    scope = unit_scope(request.user)
    after = _after(request)
    form, qs = _eligibility_query(request, scope, after=after)
    rows = list(qs[: PAGE_SIZE + 1])
    next_url = None
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        params = request.GET.copy()
        params["after"] = f"{rows[-1].priority}:{rows[-1].device_id}"
        next_url = f"?{params.urlencode()}"
    params = request.GET.copy()
    params.pop("after", None)
    return render(
        request,
        "refresh/deviceeligibility_list.html",
        {
            "form": form,
            "rows": rows,
            "next_url": next_url,
            "first_url": f"?{params.urlencode()}" if after else None,
            "export_query": params.urlencode(),
            "summary": selectors.eligibility_summary(scope=scope),
            "last_run": selectors.last_eligibility_run(),
            "can_recompute": has_role(request.user, Role.ASSET_MANAGER),
            "classification": OFFICIAL,
            "page_size": PAGE_SIZE,
        },
    )


EXPORT_HEADER = [
    "Asset tag",
    "Serial number",
    "Model",
    "Category",
    "Status",
    "Business unit",
    "Purchase date",
    "Due date",
    "Due now",
    "Reclaim (idle)",
    "Repairs",
    "Priority",
    "Reasons",
    "Policy (months)",
    "Computed at",
]


def _export_rows(qs):
    for row in qs.iterator(chunk_size=2000):
        d = row.device
        yield [
            d.asset_tag or "",
            d.serial_number,
            d.device_model.name,
            row.category,
            d.get_status_display(),
            row.business_unit.code,
            row.purchase_date.isoformat() if row.purchase_date else "",
            row.due_date.isoformat() if row.due_date else "",
            "yes" if row.is_due else "no",
            "yes" if row.reclaim else "no",
            row.repair_count,
            row.priority,
            "; ".join(row.reasons),
            row.policy.lifecycle_months,
            timezone.localtime(row.computed_at).strftime("%Y-%m-%d %H:%M"),
        ]


class _Echo:
    def write(self, value):
        return value


@login_required
def eligibility_export(request, fmt: str):
    """CSV (streamed) or XLSX (xlsxwriter constant-memory) of the filtered list,
    marked OFFICIAL (no commercial figures), cells neutralised against formulas."""
    scope = unit_scope(request.user)
    _form, qs = _eligibility_query(request, scope)
    marking = OFFICIAL
    stamp = timezone.localdate().isoformat()
    if fmt == "csv":
        writer = csv.writer(_Echo(), lineterminator="\r\n")

        def stream():
            yield "\ufeff" + writer.writerow([f"Classification: {marking}"])
            yield writer.writerow(EXPORT_HEADER)
            for values in _export_rows(qs):
                yield writer.writerow([csv_cell(v) for v in values])

        response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="refresh-eligibility-{stamp}.csv"'
        response[CLASSIFICATION_HEADER] = marking
        return response
    if fmt != "xlsx":
        raise Http404
    handle = tempfile.TemporaryFile()  # noqa: SIM115 - FileResponse closes it
    workbook = xlsxwriter.Workbook(handle, {"constant_memory": True, "in_memory": False})
    sheet = workbook.add_worksheet("Eligibility")
    bold = workbook.add_format({"bold": True})
    sheet.write(0, 0, f"Classification: {marking}", bold)
    sheet.write_row(1, 0, EXPORT_HEADER, bold)
    last = 1
    for last, values in enumerate(_export_rows(qs), start=2):
        for c, value in enumerate(values):
            if isinstance(value, str):
                sheet.write_string(last, c, neutralise(value))
            else:
                sheet.write_number(last, c, value)
    # The marking again at the foot, so it survives whichever end is printed.
    sheet.write(last + 2, 0, f"Classification: {marking}", bold)
    workbook.close()
    handle.seek(0)
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=f"refresh-eligibility-{stamp}.xlsx",
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response[CLASSIFICATION_HEADER] = marking
    return response


@login_required
@require_POST
def eligibility_recompute(request):
    require_role(request.user, Role.ASSET_MANAGER)
    services.eligibility_recompute_request(actor=request.user)
    messages.success(request, "Eligibility is being recomputed for the whole estate.")
    return redirect("refresh:eligibility")
