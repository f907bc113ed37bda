"""Estate pages: the dashboard and the device list (with its CSV). Thin: each view asks a
selector and renders."""

from __future__ import annotations

import csv
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from core import exports
from devices import selectors
from devices.forms import DeviceFilterForm, filter_tags
from devices.models import Device

# The headline cards on the dashboard, in the order shown.
HEADLINE_STATUSES = [
    Device.Status.DEPLOYED,
    Device.Status.IN_STOCK,
    Device.Status.IN_REPAIR,
    Device.Status.AWAITING_SANITISATION,
]


@login_required
@require_GET
def dashboard(request):
    counts = selectors.estate_counts(user=request.user)
    statuses = dict(counts["statuses"])
    headlines = [{"label": "Devices in total", "value": counts["total"], "key": "total"}] + [
        {"label": statuses[s], "value": counts["totals"][s], "key": s.value}
        for s in HEADLINE_STATUSES
    ]
    chart = {
        "labels": [row["label"] for row in counts["rows"]],
        "datasets": [
            {"label": label, "data": [row["by_status"][value] for row in counts["rows"]]}
            for value, label in counts["statuses"]
        ],
    }
    return render(
        request,
        "devices/dashboard.html",
        {
            "counts": counts,
            "headlines": headlines,
            "chart": chart,
            "scope_units": selectors.scope_unit_names(user=request.user),
            "classification": exports.OFFICIAL,
        },
    )


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


@login_required
@require_GET
def device_list(request):
    """Find any device: search, filters, keyset pages of 100, CSV of the filtered list."""
    params = request.GET.copy()
    for key in ("after", "before", "format"):
        params.pop(key, None)
    form = DeviceFilterForm(params or None, user=request.user)
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    queryset = selectors.device_search(user=request.user, **filters)

    if request.GET.get("format") == "csv":
        return _device_csv(queryset)

    page = selectors.device_page(
        queryset=queryset,
        after=_int_or_none(request.GET.get("after")),
        before=_int_or_none(request.GET.get("before")),
    )
    base_query = urlencode([(k, v) for k, v in params.items() if v])

    def link(**extra):
        query = "&".join(q for q in (base_query, urlencode(extra)) if q)
        return f"?{query}" if query else "?"

    return render(
        request,
        "devices/device_list.html",
        {
            "form": form,
            "page": page,
            "devices": page.rows,
            "selected": filter_tags(form, params),
            "next_url": link(after=page.next_after) if page.next_after else None,
            "previous_url": link(before=page.previous_before) if page.previous_before else None,
            "csv_url": link(format="csv"),
            "page_size": selectors.DEVICE_PAGE_SIZE,
            "next_label": f"Next {selectors.DEVICE_PAGE_SIZE}",
            "classification": exports.OFFICIAL,
        },
    )


CSV_HEADER = [
    "Asset tag",
    "Serial number",
    "Manufacturer",
    "Model",
    "Category",
    "Status",
    "Business unit",
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


def _device_csv(queryset):
    """Stream the filtered list as CSV, marked OFFICIAL (no commercial columns).

    Rows come from ``values_list(...).iterator()`` so memory stays flat for the
    whole estate; every cell goes through core.exports (formula neutralisation).
    """
    rows = queryset.values_list(
        "asset_tag",
        "serial_number",
        "manufacturer__name",
        "device_model__name",
        "device_model__category",
        "status",
        "business_unit__code",
        "assigned_to__staff_number",
        "location",
        "purchase_date",
        "warranty_expires",
        "last_seen",
        "os_version",
    ).iterator(chunk_size=2000)
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
    response["Content-Disposition"] = f'attachment; filename="devices-{stamp}.csv"'
    return response
