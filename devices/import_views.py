"""Estate import pages (asset managers only): upload, progress, summary, error report.

Thin: the form is checked here, everything else is a service or a selector.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET

from accounts.roles import Role, require_role
from core.exports import OFFICIAL
from devices.importing import selectors
from devices.importing.mappings import MAPPING_CHOICES
from devices.importing.services import import_run_submit
from devices.models import ImportRun

ACCEPTED_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx")


class ImportForm(forms.Form):
    file = forms.FileField(
        label="Upload a file",
        help_text="CSV (comma, tab or semicolon separated; UTF-8, UTF-16 or Windows-1252) or XLSX.",
    )
    mode = forms.ChoiceField(
        label="If some rows have errors",
        choices=[
            (ImportRun.Mode.VALID_ROWS, "Import the valid rows and report the rest"),
            (ImportRun.Mode.ALL_OR_NOTHING, "Change nothing (all or nothing)"),
        ],
        initial=ImportRun.Mode.VALID_ROWS,
        widget=forms.RadioSelect,
    )
    mapping = forms.ChoiceField(label="Column names", choices=MAPPING_CHOICES, initial="default")
    dry_run = forms.BooleanField(
        label="Dry run: check the file and report, without changing anything", required=False
    )
    record_exceptions = forms.BooleanField(
        label="First migration of an existing estate: record each entitlement exceedance "
        "as an exception awaiting review instead of rejecting the row",
        required=False,
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(ACCEPTED_SUFFIXES):
            raise forms.ValidationError("The file must be a CSV or XLSX file.")
        if not upload.size:
            raise forms.ValidationError("The selected file is empty.")
        return upload


def _asset_manager(request) -> None:
    require_role(request.user, Role.ASSET_MANAGER, message="Only asset managers import the estate.")


def _run_or_404(request, pk: int) -> ImportRun:
    try:
        return selectors.import_run_get(user=request.user, pk=pk)
    except ImportRun.DoesNotExist:
        raise Http404("No such import.") from None


@login_required
def import_list(request):
    _asset_manager(request)
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            run = import_run_submit(
                upload=form.cleaned_data["file"],
                actor=request.user,
                mode=form.cleaned_data["mode"],
                mapping=form.cleaned_data["mapping"],
                dry_run=form.cleaned_data["dry_run"],
                record_exceptions=form.cleaned_data["record_exceptions"],
            )
            return redirect("devices:import_detail", pk=run.pk)
    else:
        form = ImportForm()
    runs = list(selectors.import_run_list(user=request.user)[:50])
    return render(
        request,
        "devices/import_list.html",
        {"form": form, "runs": runs, "classification": OFFICIAL},
    )


def _detail_context(request, run: ImportRun) -> dict:
    errors, marking = selectors.import_run_errors_for(run=run, user=request.user)
    return {"run": run, "errors": errors, "classification": marking}


@login_required
@require_GET
def import_detail(request, pk: int):
    _asset_manager(request)
    run = _run_or_404(request, pk)
    return render(request, "devices/import_detail.html", _detail_context(request, run))


@login_required
@require_GET
def import_progress(request, pk: int):
    """The htmx partial the run page polls every second until the run finishes."""
    _asset_manager(request)
    run = _run_or_404(request, pk)
    return render(request, "devices/import_progress.html", _detail_context(request, run))


@login_required
@require_GET
def import_errors(request, pk: int):
    _asset_manager(request)
    run = _run_or_404(request, pk)
    if not run.error_report:
        raise Http404("This import has no error report.")
    data = selectors.import_error_report(run=run, user=request.user)
    response = HttpResponse(data, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{run.pk}-errors.csv"'
    return response
