"""Forms of the refresh pages. They only parse input; the services decide."""

from __future__ import annotations

from django import forms

from accounts.models import BusinessUnit
from core.financial_year import FinancialYear
from core.forms import GovukFormMixin
from devices.models import Category
from refresh.models import (
    MAX_ID,
    MAX_LIFECYCLE_MONTHS,
    MAX_NEW_STARTERS,
    MAX_PRIORITY,
    MAX_UNIT_PRICE,
    MAX_VOLUME_CAP,
    MAX_WAVE_VOLUME,
    RefreshPolicy,
)

CATEGORY_CHOICES = [("", "All categories"), *Category.choices]


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
        widgets = {"effective_from": forms.DateInput(attrs={"type": "date"})}


class OsEndOfSupportForm(GovukFormMixin, forms.Form):
    os_prefix = forms.CharField(
        label="Operating system (name or prefix)",
        max_length=100,
        help_text="For example Windows 10",
    )
    end_of_support = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))


class BauRateForm(GovukFormMixin, forms.Form):
    category = forms.ChoiceField(choices=Category.choices)
    new_starters_per_year = forms.IntegerField(min_value=0, max_value=MAX_NEW_STARTERS)
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
    planning_unit_price = forms.DecimalField(
        label="Planning unit price (£)",
        min_value=0,
        max_value=MAX_UNIT_PRICE,
        required=False,
        max_digits=12,
        decimal_places=2,
    )


class BaselineForm(GovukFormMixin, forms.Form):
    name = forms.CharField(max_length=200)
    as_of = forms.DateField(label="Estate as at", widget=forms.DateInput(attrs={"type": "date"}))
    first_year = forms.CharField(label="First financial year", initial="2025/26")
    years = forms.IntegerField(label="Number of years", min_value=1, max_value=10, initial=2)
    is_plan = forms.BooleanField(label="This is the plan (volumes are a maximum)", required=False)

    def clean_first_year(self):
        try:
            return FinancialYear.parse(self.cleaned_data["first_year"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

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
            forms.IntegerField,
            {"min_value": 1, "max_value": MAX_LIFECYCLE_MONTHS},
        ),
        ("defer_years", "defer by (years)", forms.IntegerField, {"min_value": 0, "max_value": 10}),
        (
            "unit_prices",
            "unit price (£)",
            forms.DecimalField,
            {"min_value": 0, "max_value": MAX_UNIT_PRICE, "max_digits": 12, "decimal_places": 2},
        ),
        (
            "new_starters_per_year",
            "new starters a year",
            forms.IntegerField,
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
    min_priority = forms.IntegerField(
        label="Minimum priority", initial=0, min_value=0, max_value=MAX_PRIORITY
    )
    volume = forms.IntegerField(min_value=1, max_value=MAX_WAVE_VOLUME, initial=100)

    def __init__(self, *args, scope, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["business_unit"].queryset = scoped_units(scope)


class AllocateForm(GovukFormMixin, forms.Form):
    new_device = forms.IntegerField(
        label="New device (id)", widget=forms.HiddenInput, min_value=1, max_value=MAX_ID
    )


class ATConfirmForm(GovukFormMixin, forms.Form):
    note = forms.CharField(
        label="What was checked", max_length=500, help_text="For example: JAWS and ZoomText tested"
    )
