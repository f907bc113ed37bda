"""Forms for the estate pages, rendered with GOV.UK Frontend classes."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from accounts.models import BusinessUnit
from accounts.roles import Role, user_roles
from core.forms import GovukFormMixin
from devices import listing, selectors
from devices.models import Category, Device, DeviceModel


class DeviceFilterForm(GovukFormMixin, forms.Form):
    """Search, filters and sort of the device list (page and CSV).

    Bound to the whole query string: a parameter the list does not know (``?serial=``)
    or a value outside the user's units is an error naming it, never silently ignored
    (which would list everything the user may see). Units offered are only those in
    the user's scope, and a unit outside it is refused with the same words as one
    that does not exist.
    """

    # Parameters the view reads itself (page links and the CSV), besides the fields.
    PAGE_PARAMETERS = ("after", "before", "format")
    FORMATS = ("csv",)

    q = forms.CharField(
        label="Asset tag or serial number",
        required=False,
        max_length=100,
        help_text="The whole value, or how it starts",
    )
    business_unit = forms.ModelChoiceField(
        label="Business unit",
        queryset=BusinessUnit.objects.none(),
        required=False,
        to_field_name="code",
        empty_label="All units",
        error_messages={"invalid_choice": "Business unit %(value)s is not a unit you can see"},
    )
    category = forms.ChoiceField(
        label="Category", required=False, choices=[("", "All categories"), *Category.choices]
    )
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "All statuses"), *Device.Status.choices]
    )
    device_model = forms.ModelChoiceField(
        label="Model",
        queryset=DeviceModel.objects.none(),
        required=False,
        empty_label="All models",
        error_messages={"invalid_choice": "Model %(value)s is not in the catalogue"},
    )
    sort = forms.ChoiceField(
        label="Sort by",
        required=False,
        choices=[("", "Order added"), *((s.key, s.label) for s in listing.SORTS.values())],
        widget=forms.HiddenInput,
    )
    order = forms.ChoiceField(
        label="Order",
        required=False,
        choices=[("", "Ascending"), ("asc", "Ascending"), ("desc", "Descending")],
        widget=forms.HiddenInput,
    )

    def __init__(self, data=None, *args, user, **kwargs):
        super().__init__(data, *args, **kwargs)
        self.fields["business_unit"].queryset = selectors.business_unit_list(user=user)
        self.fields["business_unit"].label_from_instance = lambda unit: (
            f"{'– ' * unit.depth}{unit.name}"
        )
        self.fields["device_model"].queryset = selectors.device_model_choices(user=user)
        self.fields["q"].widget.attrs.update(
            {"spellcheck": "false", "autocomplete": "off", "autocapitalize": "characters"}
        )

    def clean(self):
        cleaned = super().clean()
        data = self.data
        known = set(self.fields) | set(self.PAGE_PARAMETERS)
        for name in sorted(set(data) - known):
            self.add_error(None, unknown_parameter_message(name, self))
        getlist = getattr(data, "getlist", None)
        for name in sorted(known & set(data)) if getlist else ():
            if len(getlist(name)) > 1:
                self.add_error(None, f"Give {_parameter_label(name, self)} once, not several times")
        if data.get("format") and data.get("format") not in self.FORMATS:
            self.add_error(None, "The list downloads as CSV only (format=csv)")
        if data.get("after") and data.get("before"):
            self.add_error(None, "A page link has either after or before, not both")
        sort = listing.SORTS.get(cleaned.get("sort") or "", listing.ADDED)
        for name in ("after", "before"):
            if data.get(name):
                try:
                    listing.decode_cursor(data[name], sort)
                except listing.BadCursor:
                    self.add_error(
                        None,
                        "This page link does not match the list's order: start from the first page",
                    )
        return cleaned

    @property
    def filters(self) -> listing.ListFilters:
        c = self.cleaned_data
        return listing.ListFilters(
            q=(c.get("q") or "").strip(),
            business_unit=c.get("business_unit"),
            category=c.get("category") or "",
            status=c.get("status") or "",
            device_model=c.get("device_model"),
        )


def _parameter_label(name: str, form: forms.Form) -> str:
    field = form.fields.get(name)
    return f"{str(field.label).lower()} ({name})" if field is not None else name


def unknown_parameter_message(name: str, form: forms.Form) -> str:
    """The error for a query parameter the list does not know: it names the parameter
    and what the list does filter on."""
    shown = name if len(name) <= 40 else f"{name[:40]}…"
    filters = ", ".join(
        f"{str(field.label).lower()} ({key})"
        for key, field in form.fields.items()
        if not field.widget.is_hidden
    )
    return f"The list has no filter called “{shown}”. It filters on {filters}"


def filter_tags(form: forms.Form, params) -> list[tuple[str, str, str]]:
    """The filters in force as (label, shown value, URL without it), for includes/filter.html.

    Works for any bound form: model choices show their label, choices their
    display text; hidden fields (the sort) are not filters. ``params`` is the
    request's query (a QueryDict or dict).
    """
    if not form.is_bound or not form.is_valid():
        return []
    tags = []
    for name, value in form.cleaned_data.items():
        if value in (None, "", [], False) or form.fields[name].widget.is_hidden:
            continue
        field = form.fields[name]
        if isinstance(field, forms.ModelChoiceField):
            shown = field.label_from_instance(value).lstrip("– ")
        elif isinstance(field, forms.ChoiceField):
            shown = dict(field.choices).get(value, value)
        else:
            shown = value
        remaining = urlencode([(k, v) for k, v in params.items() if v and k != name])
        tags.append((str(field.label), str(shown), f"?{remaining}" if remaining else "?"))
    return tags


class DeviceColumnsForm(GovukFormMixin, forms.Form):
    """The device list's column chooser (remembered in the session)."""

    columns = forms.MultipleChoiceField(
        label="Columns to show",
        required=False,
        choices=[(c.key, c.label) for c in listing.COLUMNS.values()],
        widget=forms.CheckboxSelectMultiple,
        help_text="The asset tag is always shown.",
    )
    # The list's query string, to go back to the same filters and sort.
    back = forms.CharField(required=False, widget=forms.HiddenInput, max_length=2000)


class DeviceSelectionForm(GovukFormMixin, forms.Form):
    """Devices ticked on the list, and what to do with them."""

    device = forms.TypedMultipleChoiceField(
        label="Devices",
        coerce=int,
        choices=[],
        error_messages={"required": "Select at least one device"},
    )
    action = forms.ChoiceField(label="Action", choices=[])

    def __init__(self, *args, actions: list[tuple[str, str]], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["action"].choices = actions
        raw = self.data.getlist("device") if hasattr(self.data, "getlist") else []
        # Any positive id is a choice here; whether the user may see it is the service's.
        self.fields["device"].choices = [
            (v, v) for v in raw if v.isdigit() and 0 < len(v) <= 18 and int(v) > 0
        ]
        self.fields["device"].error_messages["invalid_choice"] = "%(value)s is not a device"


class BulkConfirmForm(DeviceSelectionForm):
    """The confirmation of a bulk move: the same selection, and the reason."""

    reason = forms.CharField(
        label="Reason",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Recorded on each device's history, for example the fault or the incident number.",
    )
    confirm = forms.CharField(widget=forms.HiddenInput, required=False)


class SignInForm(AuthenticationForm):
    """The login form. Integration accounts (ITSM/MDM tools) use API tokens only:
    even if one were given a password, it may not sign in to the website."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "integration": (
            "This is an integration account. It uses an API token and cannot sign in here."
        ),
    }

    def confirm_login_allowed(self, user):
        super().confirm_login_allowed(user)
        if user_roles(user) == {Role.INTEGRATION} and not user.is_superuser:
            raise forms.ValidationError(self.error_messages["integration"], code="integration")
