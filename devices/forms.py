"""Forms for the estate pages, rendered with GOV.UK Frontend classes."""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms
from django.contrib.auth.forms import AuthenticationForm

from accounts.models import BusinessUnit
from accounts.roles import Role, user_roles
from core.forms import GovukFormMixin
from devices import selectors
from devices.models import Category, Device, DeviceModel


class DeviceFilterForm(GovukFormMixin, forms.Form):
    """Search and filters of the device list. Units offered are only those in the user's scope."""

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
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["business_unit"].queryset = selectors.business_unit_list(user=user)
        self.fields["business_unit"].label_from_instance = lambda unit: (
            f"{'– ' * unit.depth}{unit.name}"
        )
        self.fields["device_model"].queryset = selectors.device_model_choices(user=user)
        self.fields["q"].widget.attrs.update(
            {"spellcheck": "false", "autocomplete": "off", "autocapitalize": "characters"}
        )


def filter_tags(form: forms.Form, params) -> list[tuple[str, str, str]]:
    """The filters in force as (label, shown value, URL without it), for includes/filter.html.

    Works for any bound form: model choices show their label, choices their
    display text. ``params`` is the request's query (a QueryDict or dict).
    """
    if not form.is_bound or not form.is_valid():
        return []
    tags = []
    for name, value in form.cleaned_data.items():
        if value in (None, "", [], False):
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
