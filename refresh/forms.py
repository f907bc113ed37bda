"""Forms of the refresh pages. They only parse input; the services decide."""

from __future__ import annotations

from django import forms
from django.utils import timezone

from accounts.models import BusinessUnit
from core.financial_year import FinancialYear
from core.forms import BoundedIntegerField, GovukDateField, MoneyField
from core.forms import GovukFormMixin as CoreGovukFormMixin
from devices.models import Category
from refresh.models import (
    MAX_ID,
    MAX_IDLE_DAYS,
    MAX_LIFECYCLE_MONTHS,
    MAX_NEW_STARTERS,
    MAX_PRIORITY,
    MAX_REPAIR_THRESHOLD,
    MAX_SWAP_NOTES,
    MAX_SWAP_REASON,
    MAX_UNIT_PRICE,
    MAX_VOLUME_CAP,
    MAX_WAVE_VOLUME,
    RefreshPolicy,
    SwapStep,
)
from refresh.selectors.forecast_engine import financial_year_in_range
from refresh.services.swaps import DEVICE_NOT_FOUND

CATEGORY_CHOICES = [("", "All categories"), *Category.choices]


class GovukFormMixin(CoreGovukFormMixin):
    """core's GOV.UK form plumbing, and bounds whose messages name the field
    ("Minimum priority must be 0 or more"), as every other message does."""

    def _name_the_field(self, name, field):
        super()._name_the_field(name, field)
        if not isinstance(field, forms.IntegerField | forms.DecimalField):
            return
        label = str(field.label or name.replace("_", " ").capitalize())
        defaults = (
            forms.IntegerField.default_error_messages | forms.DecimalField.default_error_messages
        )
        bounds = {
            "min_value": (field.min_value, "or more"),
            "max_value": (field.max_value, "or less"),
        }
        for code, (bound, words) in bounds.items():
            if bound is not None and field.error_messages.get(code) == defaults.get(code):
                field.error_messages[code] = f"{label} must be {bound:,} {words}"


def scoped_units(scope):
    """Active units inside ``scope``, in tree order, for a unit filter's choices."""
    return BusinessUnit.objects.within(scope).filter(active=True).order_by("path")


class EligibilityFilterForm(GovukFormMixin, forms.Form):
    SHOW_CHOICES = [
        ("due", "Due for refresh"),
        ("reclaim", "Idle: reclaim"),
        ("all", "All devices"),
    ]

    business_unit = forms.ModelChoiceField(
        queryset=BusinessUnit.objects.none(), required=False, empty_label="All my units"
    )
    category = forms.ChoiceField(choices=CATEGORY_CHOICES, required=False)
    show = forms.ChoiceField(choices=SHOW_CHOICES, required=False, initial="due")

    def __init__(self, *args, scope, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["business_unit"].queryset = scoped_units(scope)


class ForecastFilterForm(GovukFormMixin, forms.Form):
    business_unit = forms.ModelChoiceField(
        queryset=BusinessUnit.objects.none(), required=False, empty_label="All my units"
    )

    def __init__(self, *args, scope, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["business_unit"].queryset = scoped_units(scope)


class PolicyForm(GovukFormMixin, forms.ModelForm):
    effective_from = GovukDateField(label="Effective from")
    lifecycle_months = BoundedIntegerField(
        label="Lifecycle (months)", min_value=1, max_value=MAX_LIFECYCLE_MONTHS
    )
    repair_threshold = BoundedIntegerField(
        label="Repairs that make a device due",
        max_value=MAX_REPAIR_THRESHOLD,
        initial=3,
        help_text="0 means repair history never makes a device due on its own.",
    )
    idle_days = BoundedIntegerField(
        label="Idle after (days unseen)",
        max_value=MAX_IDLE_DAYS,
        initial=90,
        help_text="A deployed device not seen for this many days is reclaimed, not refreshed.",
    )

    class Meta:
        model = RefreshPolicy
        fields = [
            "category",
            "effective_from",
            "lifecycle_months",
            "repair_threshold",
            "idle_days",
            "os_end_of_support_forces_refresh",
            "note",
        ]
        labels = {
            "os_end_of_support_forces_refresh": (
                "An operating system past its end of support makes a device due"
            ),
        }


class OsEndOfSupportForm(GovukFormMixin, forms.Form):
    os_prefix = forms.CharField(
        label="Operating system (name or prefix)",
        max_length=100,
        help_text="For example Windows 10",
    )
    end_of_support = GovukDateField(label="End of support")


class BauRateForm(GovukFormMixin, forms.Form):
    category = forms.ChoiceField(choices=Category.choices)
    new_starters_per_year = BoundedIntegerField(
        label="New starters a year", max_value=MAX_NEW_STARTERS
    )
    breakage_rate_pct = forms.DecimalField(
        label="Breakage replacements (% of devices in use a year)",
        min_value=0,
        max_value=100,
        max_digits=5,
        decimal_places=2,
    )
    growth_pct = forms.DecimalField(
        label="Growth (% a year)", min_value=-100, max_value=100, max_digits=5, decimal_places=2
    )
    planning_unit_price = MoneyField(
        label="Planning unit price (£)",
        max_value=MAX_UNIT_PRICE,
        required=False,
        help_text="Leave empty to price with the catalogue's average. For example, 1,250",
    )


class BaselineForm(GovukFormMixin, forms.Form):
    name = forms.CharField(max_length=200)
    as_of = GovukDateField(label="Estate as at")
    first_year = forms.CharField(
        label="First financial year",
        initial="2025/26",
        max_length=7,
        help_text="For example, 2025/26",
    )
    years = BoundedIntegerField(label="Number of years", min_value=1, max_value=10, initial=2)
    is_plan = forms.BooleanField(label="This is the plan (volumes are a maximum)", required=False)

    def clean_first_year(self):
        try:
            return financial_year_in_range(self.cleaned_data["first_year"])
        except ValueError as exc:
            raise forms.ValidationError(f"First financial year: {exc}") from None

    def financial_years(self) -> list[FinancialYear]:
        first = self.cleaned_data["first_year"]
        return [FinancialYear(first.start_year + i) for i in range(self.cleaned_data["years"])]


class ScenarioForm(GovukFormMixin, forms.Form):
    """Named fields per category, turned into the overrides JSON the service validates."""

    name = forms.CharField(max_length=200)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    volume_caps = forms.CharField(
        label="Volume caps",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line: financial year, category, maximum volume. For example 2025/26 laptop 12000",
    )

    PER_CATEGORY = [
        (
            "lifecycle_months",
            "lifecycle (months)",
            BoundedIntegerField,
            {"min_value": 1, "max_value": MAX_LIFECYCLE_MONTHS},
        ),
        ("defer_years", "defer by (years)", BoundedIntegerField, {"min_value": 0, "max_value": 10}),
        ("unit_prices", "unit price (£)", MoneyField, {"max_value": MAX_UNIT_PRICE}),
        (
            "new_starters_per_year",
            "new starters a year",
            BoundedIntegerField,
            {"min_value": 0, "max_value": MAX_NEW_STARTERS},
        ),
        (
            "breakage_rate_pct",
            "breakage %",
            forms.DecimalField,
            {"min_value": 0, "max_value": 100, "max_digits": 5, "decimal_places": 2},
        ),
        (
            "growth_pct",
            "growth %",
            forms.DecimalField,
            {"min_value": -100, "max_value": 100, "max_digits": 5, "decimal_places": 2},
        ),
    ]

    def __init__(self, *args, scenario=None, show_prices=False, **kwargs):
        initial = kwargs.pop("initial", {}) or {}
        if scenario is not None:
            initial.update(self.initial_from(scenario))
        super().__init__(*args, initial=initial, **kwargs)
        self.groups = []
        for key, label, field_class, options in self.PER_CATEGORY:
            if key == "unit_prices" and not show_prices:
                continue
            names = []
            for category, category_label in Category.choices:
                name = f"{key}__{category}"
                self.fields[name] = field_class(
                    label=f"{category_label} {label}", required=False, **options
                )
                self.fields[name].widget.attrs["class"] = "govuk-input govuk-input--width-5"
                names.append(name)
            self.groups.append((label, [self[n] for n in names]))

    @staticmethod
    def initial_from(scenario) -> dict:
        data = {"name": scenario.name, "description": scenario.description}
        o = scenario.overrides or {}
        for key in ("lifecycle_months", "defer_years", "unit_prices"):
            for category, value in (o.get(key) or {}).items():
                data[f"{key}__{category}"] = value
        for category, rates in (o.get("bau") or {}).items():
            for key, value in rates.items():
                data[f"{key}__{category}"] = value
        caps = o.get("volume_caps") or {}
        data["volume_caps"] = "\n".join(
            f"{fy} {category} {n}" for fy, inner in caps.items() for category, n in inner.items()
        )
        return data

    def clean_volume_caps(self):
        caps: dict[str, dict[str, int]] = {}
        for number, line in enumerate(self.cleaned_data["volume_caps"].splitlines(), start=1):
            if not line.strip():
                continue
            parts = line.split()
            if len(parts) != 3:
                raise forms.ValidationError(
                    f"Line {number}: write a financial year, a category and a volume."
                )
            if not parts[2].isdigit() or int(parts[2]) > MAX_VOLUME_CAP:
                raise forms.ValidationError(
                    f"Line {number}: the volume must be a whole number from 0 to "
                    f"{MAX_VOLUME_CAP:,}."
                )
            caps.setdefault(parts[0], {})[parts[1]] = parts[2]
        return caps

    def overrides(self) -> dict:
        data = self.cleaned_data
        out: dict = {}
        for key in ("lifecycle_months", "defer_years", "unit_prices"):
            values = {
                c: (str(data[f"{key}__{c}"]) if key == "unit_prices" else data[f"{key}__{c}"])
                for c in Category.values
                if data.get(f"{key}__{c}") is not None
            }
            if values:
                out[key] = values
        bau = {}
        for c in Category.values:
            rates = {
                k: str(data[f"{k}__{c}"])
                for k in ("new_starters_per_year", "breakage_rate_pct", "growth_pct")
                if data.get(f"{k}__{c}") is not None
            }
            if rates:
                bau[c] = rates
        if bau:
            out["bau"] = bau
        if data.get("volume_caps"):
            out["volume_caps"] = data["volume_caps"]
        return out


class WaveForm(GovukFormMixin, forms.Form):
    name = forms.CharField(max_length=200)
    business_unit = forms.ModelChoiceField(
        queryset=BusinessUnit.objects.none(), required=False, empty_label="All my units"
    )
    category = forms.ChoiceField(choices=CATEGORY_CHOICES, required=False)
    min_priority = BoundedIntegerField(
        label="Minimum priority",
        initial=0,
        max_value=MAX_PRIORITY,
        help_text=f"0 to {MAX_PRIORITY:,}: about the device's age in months, plus 12 per repair.",
    )
    volume = BoundedIntegerField(
        label="Volume",
        min_value=1,
        max_value=MAX_WAVE_VOLUME,
        initial=100,
        help_text=f"How many swaps, 1 to {MAX_WAVE_VOLUME:,}.",
    )

    def __init__(self, *args, scope, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["business_unit"].queryset = scoped_units(scope)


# The swap steps a form records, and what the date box asks for at each.
STEP_DATE_LABELS = {
    "allocate": "Date allocated",
    "hand_over": "Date handed over",
    "return": "Date the old device came back",
    "complete": "Date completed",
    "cancel": "Date cancelled",
}


def _step_date(step: str) -> GovukDateField:
    # Shown filled in with today; left empty, the service takes today as well.
    return GovukDateField(
        label=STEP_DATE_LABELS[step],
        required=False,
        help_text="For example, 27 3 2026. Today unless it happened earlier.",
    )


def _notes() -> forms.CharField:
    return forms.CharField(
        label="Notes (optional)",
        required=False,
        max_length=MAX_SWAP_NOTES,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Anything the next person should know: where the device is, what was said.",
    )


class _StepForm(GovukFormMixin, forms.Form):
    """A swap step's form: its date defaults to today."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("occurred_on", timezone.localdate())
        super().__init__(*args, **kwargs)


class FirstRadioSelect(forms.RadioSelect):
    """Radios whose field id is the first radio's, so the GOV.UK error summary's link
    lands on the radios (Django gives a radio group no id of its own)."""

    def id_for_label(self, id_, index="0"):
        return super().id_for_label(id_, index)


def _condition(*, required: bool) -> forms.ChoiceField:
    return forms.ChoiceField(
        label="Condition of the old device" + ("" if required else " (optional)"),
        choices=SwapStep.Condition.choices,
        required=required,
        widget=FirstRadioSelect,
        error_messages={"required": "Choose the condition the old device came back in"},
    )


class AllocateForm(_StepForm):
    """Allocation by scanning or typing a serial number or asset tag (a scanner types
    the code and presses Enter, which submits the form), or by a device id."""

    code = forms.CharField(
        label="Serial number or asset tag",
        required=False,
        max_length=100,
        help_text="Scan the new device's barcode, or type it and press Enter.",
        widget=forms.TextInput(
            attrs={
                "class": "govuk-input govuk-input--width-20",
                "autocomplete": "off",
                "spellcheck": "false",
            }
        ),
    )
    new_device = forms.CharField(required=False, widget=forms.HiddenInput, max_length=30)
    occurred_on = _step_date("allocate")
    notes = _notes()

    def clean(self):
        data = super().clean()
        raw = (data.get("new_device") or "").strip()
        data["new_device"] = None
        if raw:
            # Anything but a device id in range is refused as an unknown device (a
            # 20-digit number would overflow the database driver).
            if raw.isdigit() and 1 <= int(raw) <= MAX_ID:
                data["new_device"] = int(raw)
            else:
                self.add_error("code", DEVICE_NOT_FOUND)
        elif not data.get("code") and not self.errors:
            self.add_error("code", "Scan or type the new device's serial number or asset tag")
        return data


class HandOverForm(_StepForm):
    occurred_on = _step_date("hand_over")
    old_device_condition = _condition(required=False)
    notes = _notes()


class ReturnForm(_StepForm):
    occurred_on = _step_date("return")
    old_device_condition = _condition(required=True)
    notes = _notes()


class CompleteForm(_StepForm):
    occurred_on = _step_date("complete")
    notes = _notes()


# The form of each step the swap page records.
STEP_FORMS = {
    "allocate": AllocateForm,
    "hand_over": HandOverForm,
    "return": ReturnForm,
    "complete": CompleteForm,
}


class CancelSwapForm(GovukFormMixin, forms.Form):
    """Why a swap is cancelled, then a second, separate confirmation."""

    reason = forms.CharField(
        label="Why is this swap cancelled?",
        max_length=MAX_SWAP_REASON,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For example: the officer has left; the device was replaced under warranty.",
        error_messages={"required": "Say why the swap is cancelled"},
    )
    occurred_on = GovukDateField(
        label="Date cancelled",
        required=False,
        help_text="For example, 27 3 2026. Today unless it was earlier.",
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {}).setdefault("occurred_on", timezone.localdate())
        super().__init__(*args, **kwargs)


class ATConfirmForm(GovukFormMixin, forms.Form):
    note = forms.CharField(
        label="What was checked", max_length=500, help_text="For example: JAWS and ZoomText tested"
    )


class StockSearchForm(forms.Form):
    q = forms.CharField(
        label="Search the stock",
        required=False,
        max_length=100,
        help_text="Serial number or asset tag (the beginning is enough), or model name",
        widget=forms.TextInput(
            attrs={"class": "govuk-input govuk-input--width-20", "type": "search"}
        ),
    )
    page = forms.IntegerField(required=False, min_value=1, max_value=500)
