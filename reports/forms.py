"""The reports pages' forms: generate a report now, and filter the list of runs.

Both read a month through ``selectors.report_period_parse``, so a period outside the
estate's range (``0001-01``, ``9999-12``) is a form error naming the field, never a
queued run that fails for ever.
"""

from __future__ import annotations

import datetime as dt

from django import forms
from django.core.exceptions import ValidationError

from core.forms import GovukFormMixin
from reports import selectors
from reports.models import ReportRun


def recent_months(count: int = 13) -> list[dt.date]:
    """The current month and the twelve before it (first days), newest first."""
    start = selectors.london_today().replace(day=1)
    months = []
    for _ in range(count):
        months.append(start)
        start = (start - dt.timedelta(days=1)).replace(day=1)
    return months


def _month_choices() -> list[tuple[str, str]]:
    return [(f"{m:%Y-%m}", f"{m:%B %Y}") for m in recent_months()]


class MonthField(forms.Field):
    """A report month: ``YYYY-MM``, within ``selectors.report_period_range()``. Shown as
    a select of recent months; any month in range is accepted when posted."""

    widget = forms.Select

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return selectors.report_period_parse(str(value), label=str(self.label or "Month"))
        except ValueError as exc:
            raise ValidationError(str(exc), code="invalid") from None

    def prepare_value(self, value):
        return f"{value:%Y-%m}" if hasattr(value, "strftime") else value


def _kinds(user) -> list[tuple[str, str]]:
    if selectors.may_see_finance(user):
        return list(ReportRun.Kind.choices)
    return [(ReportRun.Kind.STEWARDSHIP.value, ReportRun.Kind.STEWARDSHIP.label)]


class ReportGenerateForm(GovukFormMixin, forms.Form):
    """Generate now: a report (the finance report only for finance and commercial
    roles), a unit in the user's scope (stewardship report) and a month."""

    kind = forms.ChoiceField(label="Report")
    unit = forms.TypedChoiceField(
        label="Business unit",
        coerce=int,
        required=False,
        empty_value=None,
        help_text="For the stewardship report",
    )
    period = MonthField(
        label="Month", error_messages={"required": "Choose the month the report covers"}
    )

    def __init__(self, *args, user, units: list[dict], **kwargs):
        """``units``: the user's units (id, code, name), read once by the view for
        both forms on the page."""
        kwargs.setdefault("auto_id", "generate-%s")
        super().__init__(*args, **kwargs)
        self.fields["kind"].choices = _kinds(user)
        self.fields["kind"].error_messages["invalid_choice"] = "Choose a report from the list"
        self.fields["unit"].choices = _unit_choices(units)
        self.fields["unit"].error_messages["invalid_choice"] = (
            "Choose a business unit you are responsible for"
        )
        self.fields["period"].widget.choices = _month_choices()
        if not self.is_bound:
            self.initial.setdefault("period", selectors.previous_month(selectors.london_today())[0])

    def clean(self):
        data = super().clean()
        stewardship = data.get("kind") == ReportRun.Kind.STEWARDSHIP
        if stewardship and not data.get("unit") and "unit" not in self.errors:
            self.add_error("unit", "Choose a business unit for the stewardship report")
        return data


class ReportFilterForm(GovukFormMixin, forms.Form):
    """The list's filters (GET): a value that is not one of the choices, or a month
    out of range, is an error naming the filter, never silently ignored."""

    unit = forms.TypedChoiceField(
        label="Business unit", coerce=int, required=False, empty_value=None
    )
    period = MonthField(label="Month", required=False)
    kind = forms.ChoiceField(label="Report", required=False)

    def __init__(self, *args, user, units: list[dict], **kwargs):
        kwargs.setdefault("auto_id", "filter-%s")
        super().__init__(*args, **kwargs)
        self.fields["unit"].choices = [("", "All units"), *_unit_choices(units)]
        self.fields["unit"].error_messages["invalid_choice"] = (
            "Choose a business unit from the list"
        )
        self.fields["kind"].choices = [("", "All reports"), *_kinds(user)]
        self.fields["kind"].error_messages["invalid_choice"] = "Choose a report from the list"
        self.fields["period"].widget.choices = [("", "All months"), *_month_choices()]


def _unit_choices(units: list[dict]) -> list[tuple[str, str]]:
    return [(str(u["id"]), f"{u['code']} {u['name']}") for u in units]
