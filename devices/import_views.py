"""Estate import pages (asset managers only): upload, progress, summary, error report.

Thin: the form is checked here, everything else is a service or a selector.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET

from accounts.roles import Role, require_role
from core.exports import OFFICIAL
from devices.importing import selectors
from devices.importing.errors import ImportRefused
from devices.importing.limits import import_limits, shown_bytes
from devices.importing.mappings import MAPPING_CHOICES
from devices.importing.reading import check_limits
from devices.importing.services import import_run_submit
from devices.models import ImportRun

ACCEPTED_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx")


def limits_hint() -> str:
    """The limits in words, for the upload field's hint."""
    limits = import_limits()
    return (
        f"CSV (comma, tab or semicolon separated; UTF-8, UTF-16 or Windows-1252) or XLSX. "
        f"At most {shown_bytes(limits.upload_bytes)} and {limits.rows:,} rows; an XLSX "
        f"may expand to at most {shown_bytes(limits.xlsx_expanded_bytes)}."
    )


class ImportForm(forms.Form):
    file = forms.FileField(label="Upload a file")
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

    def __init__(self, *args, refused_upload: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["file"].help_text = limits_hint()
        self.refused_upload = refused_upload
        self.fields["file"].error_messages["required"] = "Select a CSV or XLSX file to import"

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if not upload.name.lower().endswith(ACCEPTED_SUFFIXES):
            raise forms.ValidationError("The file must be a CSV or XLSX file.")
        if not upload.size:
            raise forms.ValidationError("The selected file is empty.")
        return upload

    def full_clean(self):
        super().full_clean()
        if self.refused_upload:
            # The upload was stopped at the size limit, and the fields after the file
            # never arrived: say why, not "select a file" or "choose a mode".
            self._errors.clear()
            self.add_error("file", self.refused_upload)

    def clean(self):
        cleaned = super().clean()
        upload = cleaned.get("file")
        if upload is not None and "mapping" in cleaned:
            # The limits, before the file is stored or a run recorded (nothing is
            # written for a refused file).
            try:
                _check_upload(upload, mapping=cleaned["mapping"])
            except ImportRefused as refusal:
                self.add_error("file", refusal.message)
        return cleaned


def _check_upload(upload, *, mapping: str) -> None:
    path = getattr(upload, "temporary_file_path", None)
    if path is not None:
        check_limits(Path(path()), mapping=mapping)
        return
    # A small upload Django kept in memory: checked from a temporary copy.
    with tempfile.NamedTemporaryFile(suffix=Path(upload.name).suffix) as copy:
        for chunk in upload.chunks():
            copy.write(chunk)
        copy.flush()
        check_limits(Path(copy.name), mapping=mapping)
    upload.seek(0)


class UploadLimitHandler(FileUploadHandler):
    """Stops receiving a file past IMPORT_MAX_UPLOAD_BYTES, so an oversized upload
    never fills the disk; the rest of the body is read and discarded, and the form
    says which limit the file passed."""

    def __init__(self, request=None):
        super().__init__(request)
        self.limit = import_limits().upload_bytes
        self.received = 0

    def new_file(self, *args, **kwargs):
        self.received = 0
        super().new_file(*args, **kwargs)

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.request.import_upload_refused = (
                f"The file is larger than {shown_bytes(self.limit)}, the most an import file "
                "may be. Split it into smaller files."
            )
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size):
        return None


def _asset_manager(request) -> None:
    require_role(request.user, Role.ASSET_MANAGER, message="Only asset managers import the estate.")


def _run_or_404(request, pk: int) -> ImportRun:
    try:
        return selectors.import_run_get(user=request.user, pk=pk)
    except ImportRun.DoesNotExist:
        raise Http404("No such import.") from None


@csrf_exempt  # checked by csrf_protect below, once the upload limit is in place
@login_required
def import_list(request):
    _asset_manager(request)
    if request.method == "POST":
        # Before anything reads the body (the CSRF check does): the size limit applies
        # while the file arrives, not after it has been written to disk whole.
        request.upload_handlers.insert(0, UploadLimitHandler(request))
    return _import_list(request)


@csrf_protect
def _import_list(request):
    if request.method == "POST":
        form = ImportForm(
            request.POST,
            request.FILES,
            refused_upload=getattr(request, "import_upload_refused", ""),
        )
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


def took(run: ImportRun) -> str:
    """How long a finished run took, in seconds ("4.2 seconds", "2 minutes 5.0 seconds")."""
    if not (run.started_at and run.finished_at):
        return ""
    seconds = max(0.0, (run.finished_at - run.started_at).total_seconds())
    minutes, seconds = divmod(seconds, 60) if seconds >= 60 else (0, seconds)
    shown = f"{seconds:.1f} second{'' if f'{seconds:.1f}' == '1.0' else 's'}"
    if minutes:
        shown = f"{int(minutes):,} minute{'s' if minutes >= 2 else ''} {shown}"
    return shown


def _detail_context(request, run: ImportRun) -> dict:
    errors, marking = selectors.import_run_errors_for(run=run, user=request.user)
    return {"run": run, "errors": errors, "classification": marking, "took": took(run)}


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
    """The error report CSV. It quotes the refused cells, purchase costs included: for
    a user who may not see commercial figures they are withheld, and the download
    carries the marking of what it holds (X-Classification, which core.middleware
    logs when commercial)."""
    _asset_manager(request)
    run = _run_or_404(request, pk)
    if not run.error_report:
        raise Http404("This import has no error report.")
    data, marking = selectors.import_error_report(run=run, user=request.user)
    response = HttpResponse(data, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{run.pk}-errors.csv"'
    response["X-Classification"] = marking
    return response
