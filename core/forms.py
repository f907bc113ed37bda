"""Form plumbing shared by every app's pages, rendered with GOV.UK Frontend.

- ``GovukFormMixin`` gives each widget its GOV.UK class, marks invalid fields, replaces
  Django's "---------" empty choice with words, and turns the generic "This field is
  required." into a message that names the field ("Enter the dispatch date").
- ``GovukDateField``: the GOV.UK date input (day, month and year boxes), with the
  pattern's error messages ("Dispatch date must include a month") and a sane range.
- ``MoneyField``: pounds typed as people write them ("1,000,000", "£1,000.50"), exact,
  bounded.
- ``BoundedIntegerField``: an integer with a floor and a ceiling, so a 20-digit number
  is a form error, never a database overflow.

Templates render any field with ``{% include "includes/form_field.html" %}``; a date
field renders as a fieldset of three inputs (``includes/date_input.html``).
"""

from __future__ import annotations

import datetime
import re
from decimal import Decimal, InvalidOperation

from django import forms
from django.core.exceptions import ValidationError

# The range every date typed into a page must fall in: devices bought, orders raised,
# reports asked for. Wider than the estate's history, narrow enough that a typo
# (year 0001 or 20226) is an error rather than a query over nothing.
DATE_MIN = datetime.date(1990, 1, 1)
DATE_MAX = datetime.date(2100, 12, 31)

# The largest sum any money field accepts: more than the whole capital envelope, far
# below what the database columns hold.
MONEY_MAX = Decimal("999999999.99")

# PostgreSQL's integer column holds up to 2,147,483,647.
INTEGER_MAX = 2_147_483_647


def _label(field: forms.Field, name: str) -> str:
    label = field.label or name.replace("_", " ").capitalize()
    return str(label)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text and not text[:2].isupper() else text


class GovukFormMixin:
    """Give each widget its GOV.UK class (and the error variant when the field is invalid),
    empty choices in words, and required-field messages that name the field.

    Templates then render a field with ``{% include "includes/form_field.html" %}``.
    """

    WIDGET_CLASSES = {
        forms.Select: "govuk-select",
        forms.SelectMultiple: "govuk-select",
        forms.Textarea: "govuk-textarea",
        forms.ClearableFileInput: "govuk-file-upload",
        forms.FileInput: "govuk-file-upload",
        forms.CheckboxInput: "govuk-checkboxes__input",
        forms.RadioSelect: "govuk-radios__input",
        forms.CheckboxSelectMultiple: "govuk-checkboxes__input",
    }
    ERROR_CLASSES = {
        "govuk-select": "govuk-select--error",
        "govuk-textarea": "govuk-textarea--error",
        "govuk-file-upload": "govuk-file-upload--error",
        "govuk-input": "govuk-input--error",
    }
    # What an empty choice says when the form does not name it itself.
    EMPTY_CHOICE = "Choose one"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name, field in self.fields.items():
            widget = field.widget
            if isinstance(widget, GovukDateInput):
                widget.field_label = _label(field, name)
            else:
                css = next(
                    (c for cls, c in self.WIDGET_CLASSES.items() if isinstance(widget, cls)),
                    "govuk-input",
                )
                existing = widget.attrs.get("class", "")
                if css not in existing.split():
                    widget.attrs["class"] = f"{css} {existing}".strip()
            self._name_the_field(name, field)

    def _name_the_field(self, name: str, field: forms.Field) -> None:
        label = _lower_first(_label(field, name))
        if isinstance(field, forms.ModelChoiceField) and field.empty_label == "---------":
            field.empty_label = self.EMPTY_CHOICE
        elif isinstance(field, forms.ChoiceField) and not isinstance(field, forms.ModelChoiceField):
            field.choices = [
                (value, self.EMPTY_CHOICE if text == "---------" else text)
                for value, text in field.choices
            ]
        if field.error_messages.get("required") == forms.Field.default_error_messages["required"]:
            if isinstance(field, forms.ChoiceField | forms.ModelChoiceField):
                verb = "Choose"
            elif isinstance(field, forms.FileField):
                verb = "Choose a file for"
            elif isinstance(field, forms.BooleanField):
                verb = "Confirm"
            else:
                verb = "Enter"
            field.error_messages["required"] = f"{verb} {label}"
        if isinstance(field, forms.DecimalField | forms.IntegerField | forms.FloatField):
            messages = field.error_messages
            if messages.get("invalid") in (
                forms.DecimalField.default_error_messages["invalid"],
                forms.IntegerField.default_error_messages["invalid"],
            ):
                messages["invalid"] = f"{_label(field, name)} must be a number"

    def full_clean(self):
        super().full_clean()
        for name in self.errors:
            if name in self.fields:
                widget = self.fields[name].widget
                if isinstance(widget, GovukDateInput):
                    widget.has_error = True
                    continue
                base = widget.attrs.get("class", "").split(" ")[0]
                error_class = self.ERROR_CLASSES.get(base)
                if error_class and error_class not in widget.attrs["class"]:
                    widget.attrs["class"] += f" {error_class}"
                widget.attrs["aria-describedby"] = f"{self[name].auto_id}-error"


class GovukDateInput(forms.MultiWidget):
    """Day, month and year boxes, as the GOV.UK date input pattern."""

    template_name = "includes/date_input_widget.html"
    is_govuk_date = True

    def __init__(self, attrs=None):
        part = {"class": "govuk-input govuk-date-input__input", "inputmode": "numeric"}
        widgets = {
            "day": forms.TextInput(
                attrs={**part, "class": part["class"] + " govuk-input--width-2"}
            ),
            "month": forms.TextInput(
                attrs={**part, "class": part["class"] + " govuk-input--width-2"}
            ),
            "year": forms.TextInput(
                attrs={**part, "class": part["class"] + " govuk-input--width-4"}
            ),
        }
        super().__init__(widgets, attrs)
        self.field_label = ""
        self.has_error = False

    def decompress(self, value):
        if isinstance(value, datetime.date):
            return [value.day, value.month, value.year]
        if isinstance(value, str) and value:
            try:
                parsed = datetime.date.fromisoformat(value)
            except ValueError:
                return [None, None, None]
            return [parsed.day, parsed.month, parsed.year]
        return [None, None, None]

    def value_from_datadict(self, data, files, name):
        parts = super().value_from_datadict(data, files, name)
        if not any(parts) and data.get(name):
            # A single ISO value (an API-style or link-built query) is accepted as well.
            return self.decompress(data.get(name))
        return parts

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        for sub, part in zip(
            context["widget"]["subwidgets"], ("Day", "Month", "Year"), strict=True
        ):
            sub["part_label"] = part
            if self.has_error:
                sub["attrs"]["class"] = sub["attrs"].get("class", "") + " govuk-input--error"
        return context

    def id_for_label(self, id_):
        # MultiWidget numbers its boxes' ids (_0, _1, _2): the label and the error
        # summary point at the day box.
        return f"{id_}_0" if id_ else id_


class GovukDateField(forms.MultiValueField):
    """A date typed as day, month and year, with the GOV.UK pattern's messages."""

    widget = GovukDateInput

    def __init__(self, *, min_date=DATE_MIN, max_date=DATE_MAX, **kwargs):
        self.min_date = min_date
        self.max_date = max_date
        fields = (
            forms.CharField(required=False),
            forms.CharField(required=False),
            forms.CharField(required=False),
        )
        kwargs.setdefault("help_text", "For example, 27 3 2027")
        super().__init__(fields=fields, require_all_fields=False, **kwargs)

    def clean(self, value):
        label = str(self.label or "Date")
        parts = [str(v).strip() if v is not None else "" for v in (value or ["", "", ""])]
        if not any(parts):
            if self.required:
                raise ValidationError(
                    self.error_messages.get("required") or f"Enter {label.lower()}",
                    code="required",
                )
            return None
        missing = [n for n, v in zip(("a day", "a month", "a year"), parts, strict=True) if not v]
        if missing:
            raise ValidationError(
                f"{label} must include {' and '.join(missing)}", code="incomplete"
            )
        if not all(re.fullmatch(r"\d{1,4}", v) for v in parts) or len(parts[2]) != 4:
            raise ValidationError(
                f"{label} must be a real date, with a four-digit year", code="invalid"
            )
        day, month, year = (int(v) for v in parts)
        try:
            result = datetime.date(year, month, day)
        except ValueError:
            raise ValidationError(f"{label} must be a real date", code="invalid") from None
        if self.min_date and result < self.min_date:
            raise ValidationError(
                f"{label} must be on or after {self.min_date:%-d %B %Y}", code="min_value"
            )
        if self.max_date and result > self.max_date:
            raise ValidationError(
                f"{label} must be on or before {self.max_date:%-d %B %Y}", code="max_value"
            )
        return result

    def compress(self, data_list):  # clean() above does the whole job
        return data_list

    def has_changed(self, initial, data):
        initial_parts = self.widget.decompress(initial)
        data_parts = data or [None, None, None]
        return [str(v or "") for v in initial_parts] != [str(v or "") for v in data_parts]


class MoneyField(forms.DecimalField):
    """Pounds and pence as people type them: "1,000,000", "£1,000.50", " 250 "."""

    def __init__(self, *, max_value=MONEY_MAX, min_value=Decimal("0"), **kwargs):
        kwargs.setdefault("max_digits", 12)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault(
            "widget",
            forms.TextInput(
                attrs={"inputmode": "decimal", "class": "govuk-input govuk-input--width-10"}
            ),
        )
        super().__init__(max_value=max_value, min_value=min_value, **kwargs)

    def to_python(self, value):
        if isinstance(value, str):
            cleaned = value.strip().replace(",", "").replace("£", "").replace(" ", "")
            if cleaned and not re.fullmatch(r"-?\d+(\.\d+)?", cleaned):
                label = str(self.label or "Amount")
                raise ValidationError(
                    f"{label} must be an amount in pounds, like 1,250 or £1,250.50",
                    code="invalid",
                )
            value = cleaned
        try:
            return super().to_python(value)
        except ValidationError:
            raise
        except InvalidOperation:  # pragma: no cover - the pattern above rules it out
            raise ValidationError("Enter an amount in pounds", code="invalid") from None

    def widget_attrs(self, widget):
        # No type=number / min / max / step attributes: the text box accepts commas and £.
        return {}


class BoundedIntegerField(forms.IntegerField):
    """An integer with a floor and a ceiling (defaults 0 and PostgreSQL's integer maximum)."""

    def __init__(self, *, min_value=0, max_value=INTEGER_MAX, **kwargs):
        super().__init__(min_value=min_value, max_value=max_value, **kwargs)
        label = str(self.label or "Number")
        self.error_messages["min_value"] = f"{label} must be {min_value:,} or more"
        self.error_messages["max_value"] = f"{label} must be {max_value:,} or less"

    def to_python(self, value):
        if isinstance(value, str) and len(value.strip()) > 12:
            label = str(self.label or "Number")
            raise ValidationError(f"{label} must be {self.max_value:,} or less", code="max_value")
        return super().to_python(value)
