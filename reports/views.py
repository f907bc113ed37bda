"""Report pages. Thin: selectors read, services write, templates render.

Every run is looked up through ``selectors.report_run_list(user=...)``, so a run
outside the user's scope (another unit's report, or the finance report for a
non-finance user) is a 404 even when its URL is guessed.
"""

import datetime as dt

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.errors import DomainError
from core.exports import OFFICIAL
from reports import selectors, services
from reports.models import ReportRun

CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
    "pdf": "application/pdf",
}


def _month(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(f"{value[:7]}-01")
    except ValueError:
        return None


def _recent_months(count: int = 13) -> list[dt.date]:
    start = selectors.london_today().replace(day=1)
    months = []
    for _ in range(count):
        months.append(start)
        start = (start - dt.timedelta(days=1)).replace(day=1)
    return months


def _run_or_404(request, pk: int) -> ReportRun:
    try:
        return selectors.report_run_get(user=request.user, pk=pk)
    except ReportRun.DoesNotExist as exc:
        raise Http404("No such report") from exc


@login_required
def report_list(request):
    unit_id = request.GET.get("unit") or None
    period = _month(request.GET.get("period"))
    kind = request.GET.get("kind") or None
    if kind not in {None, *ReportRun.Kind.values}:
        kind = None
    runs = selectors.report_run_list(
        user=request.user,
        unit_id=int(unit_id) if unit_id and unit_id.isdigit() else None,
        period=period,
        kind=kind,
    )
    page = Paginator(runs, 50).get_page(request.GET.get("page"))
    units = list(selectors.generatable_units(user=request.user).values("id", "code", "name"))
    return render(
        request,
        "reports/reportrun_list.html",
        {
            "page": page,
            "units": units,
            "months": _recent_months(),
            "default_month": selectors.previous_month(selectors.london_today())[0],
            "filters": {"unit": unit_id or "", "period": period, "kind": kind or ""},
            "kinds": ReportRun.Kind.choices
            if selectors.may_see_finance(request.user)
            else [(ReportRun.Kind.STEWARDSHIP, ReportRun.Kind.STEWARDSHIP.label)],
            "can_generate": selectors.may_generate(request.user),
            "can_see_finance": selectors.may_see_finance(request.user),
            "classification": OFFICIAL,
        },
    )


@login_required
@require_POST
def report_generate(request):
    kind = request.POST.get("kind") or ReportRun.Kind.STEWARDSHIP
    period = _month(request.POST.get("period"))
    unit = None
    unit_id = request.POST.get("unit", "")
    if kind == ReportRun.Kind.STEWARDSHIP and unit_id.isdigit():
        unit = selectors.generatable_units(user=request.user).filter(pk=int(unit_id)).first()
    try:
        if kind not in ReportRun.Kind.values or period is None:
            raise DomainError("Choose a report and a month.", field="period")
        run = services.report_run_request(
            user=request.user, kind=kind, unit=unit, period_start=period
        )
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("reports:report_list")
    return redirect("reports:report_detail", pk=run.pk)


@login_required
def report_detail(request, pk: int):
    run = _run_or_404(request, pk)
    return render(
        request,
        "reports/reportrun_detail.html",
        {
            "run": run,
            "classification": run.classification,
            "formats": services.FORMATS,
            "status_table": selectors.summary_status_table(run.summary)
            if run.kind == ReportRun.Kind.STEWARDSHIP
            else None,
        },
    )


@login_required
def report_progress(request, pk: int):
    """The htmx fragment polled while a run is queued or running."""
    run = _run_or_404(request, pk)
    response = render(
        request, "reports/reportrun_progress.html", {"run": run, "formats": services.FORMATS}
    )
    if run.finished:
        # Tell htmx to stop polling: the fragment it swaps in no longer carries hx-trigger.
        response["HX-Trigger"] = "report-finished"
    return response


@login_required
def report_download(request, pk: int, fmt: str):
    """Serve a stored report file through scope, never as a public media URL."""
    run = _run_or_404(request, pk)
    if fmt not in CONTENT_TYPES or run.status != ReportRun.Status.SUCCEEDED:
        raise Http404("No such file")
    try:
        handle, filename = services.report_file_open(run=run, fmt=fmt)
    except (DomainError, FileNotFoundError) as exc:
        raise Http404("No such file") from exc
    response = FileResponse(
        handle, as_attachment=True, filename=filename, content_type=CONTENT_TYPES[fmt]
    )
    response["X-Classification"] = run.classification
    response["Cache-Control"] = "private, no-store"
    return response
