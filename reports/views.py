"""Report pages. Thin: selectors read, services write, templates render.

Every run is looked up through ``selectors.report_run_list(user=...)``, so a run
outside the user's scope (another unit's report, or the finance report for a
non-finance user) is a 404 even when its URL is guessed.
"""

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from core.errors import DomainError
from core.exports import OFFICIAL
from reports import selectors, services
from reports.forms import ReportFilterForm, ReportGenerateForm
from reports.models import ReportRun

CONTENT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
    "pdf": "application/pdf",
}


def _run_or_404(request, pk: int) -> ReportRun:
    try:
        return selectors.report_run_get(user=request.user, pk=pk)
    except ReportRun.DoesNotExist as exc:
        raise Http404("No such report") from exc


def _list_page(request, *, filters: ReportFilterForm, generate: ReportGenerateForm, units):
    """The list of runs the user may see, filtered, with the generate-now form. A
    filter that is not one of its choices is shown as an error (400), not ignored."""
    if filters.is_valid():
        chosen = filters.cleaned_data
        runs = selectors.report_run_list(
            user=request.user,
            unit_id=chosen.get("unit"),
            period=chosen.get("period"),
            kind=chosen.get("kind") or None,
        )
    else:
        chosen = {}
        runs = ReportRun.objects.none()
    page = Paginator(runs, 50).get_page(request.GET.get("page"))
    status = 400 if filters.errors or generate.errors else 200
    return render(
        request,
        "reports/reportrun_list.html",
        {
            "page": page,
            "filters": filters,
            "generate": generate,
            "query": {
                "unit": chosen.get("unit") or "",
                "period": chosen.get("period"),
                "kind": chosen.get("kind") or "",
            },
            "has_units": bool(units),
            "can_generate": selectors.may_generate(request.user),
            "can_see_finance": selectors.may_see_finance(request.user),
            "classification": OFFICIAL,
        },
        status=status,
    )


def _units(request) -> list[dict]:
    """The user's units, read once for both forms of the list page."""
    return list(selectors.generatable_units(user=request.user).values("id", "code", "name"))


@login_required
def report_list(request):
    units = _units(request)
    filters = ReportFilterForm(
        {k: request.GET[k] for k in ("unit", "period", "kind") if k in request.GET},
        user=request.user,
        units=units,
    )
    generate = ReportGenerateForm(user=request.user, units=units)
    return _list_page(request, filters=filters, generate=generate, units=units)


@login_required
@require_POST
def report_generate(request):
    units = _units(request)
    generate = ReportGenerateForm(request.POST, user=request.user, units=units)
    if generate.is_valid():
        data = generate.cleaned_data
        unit = None
        if data["kind"] == ReportRun.Kind.STEWARDSHIP:
            unit = selectors.generatable_units(user=request.user).get(pk=data["unit"])
        try:
            run = services.report_run_request(
                user=request.user, kind=data["kind"], unit=unit, period_start=data["period"]
            )
        except DomainError as exc:
            field = exc.field if exc.field in generate.fields else None
            generate.add_error(field, exc.message)
        else:
            return redirect("reports:report_detail", pk=run.pk)
    filters = ReportFilterForm({}, user=request.user, units=units)
    return _list_page(request, filters=filters, generate=generate, units=units)


@login_required
def report_detail(request, pk: int):
    run = _run_or_404(request, pk)
    stewardship = run.kind == ReportRun.Kind.STEWARDSHIP
    return render(
        request,
        "reports/reportrun_detail.html",
        {
            "run": run,
            "classification": run.classification,
            "formats": services.FORMATS,
            "as_at": selectors.as_at_label(run.period_end),
            "trend": selectors.run_trend(run=run) if stewardship else None,
            "status_table": selectors.summary_status_table(run.summary) if stewardship else None,
            "sections": selectors.summary_sections(run.summary) if stewardship else None,
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
