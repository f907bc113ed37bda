"""The shared form fields: GOV.UK date input, money as people type it, bounded integers,
and required messages that name their field."""

import datetime
from decimal import Decimal

import pytest
from django import forms

from core.forms import BoundedIntegerField, GovukDateField, GovukFormMixin, MoneyField


class SampleForm(GovukFormMixin, forms.Form):
    dispatch_date = GovukDateField(label="Dispatch date")
    amount = MoneyField(label="Budget", required=False)
    count = BoundedIntegerField(label="Minimum priority", required=False)
    reason = forms.CharField(label="Reason")
    kind = forms.ChoiceField(label="Kind", choices=[("", "---------"), ("a", "A")])


def bound(**data):
    base = {"dispatch_date_day": "6", "dispatch_date_month": "12", "dispatch_date_year": "2026"}
    base.update({"reason": "x", "kind": "a"})
    base.update(data)
    return SampleForm(base)


def test_date_from_three_boxes():
    form = bound()
    assert form.is_valid(), form.errors
    assert form.cleaned_data["dispatch_date"] == datetime.date(2026, 12, 6)


@pytest.mark.parametrize(
    "parts, message",
    [
        (("6", "", "2026"), "Dispatch date must include a month"),
        (("", "", "2026"), "Dispatch date must include a day and a month"),
        (("31", "2", "2026"), "Dispatch date must be a real date"),
        (("1", "1", "26"), "Dispatch date must be a real date, with a four-digit year"),
        (("1", "1", "0001"), "Dispatch date must be on or after 1 January 1990"),
        (("x", "1", "2026"), "Dispatch date must be a real date, with a four-digit year"),
    ],
)
def test_date_errors_name_the_field_and_the_part(parts, message):
    day, month, year = parts
    form = bound(dispatch_date_day=day, dispatch_date_month=month, dispatch_date_year=year)
    assert not form.is_valid()
    assert form.errors["dispatch_date"] == [message]


def test_required_messages_name_the_field_and_no_dashes():
    form = SampleForm({})
    assert not form.is_valid()
    assert form.errors["dispatch_date"] == ["Enter dispatch date"]
    assert form.errors["reason"] == ["Enter reason"]
    assert form.errors["kind"] == ["Choose kind"]
    assert "---------" not in str(form["kind"])


def test_date_renders_as_govuk_date_input():
    from django.template.loader import render_to_string

    html = render_to_string("includes/form_field.html", {"field": bound()["dispatch_date"]})
    assert 'class="govuk-fieldset"' in html
    for part in ("day", "month", "year"):
        assert f'name="dispatch_date_{part}"' in html
    assert 'value="2026"' in html
    # The label and the error summary link to the day box, which exists.
    target = bound()["dispatch_date"].id_for_label
    assert f'id="{target}"' in html


@pytest.mark.parametrize(
    "typed, expected",
    [
        ("1,000,000", Decimal("1000000")),
        ("£1,000.50", Decimal("1000.50")),
        (" 250 ", Decimal("250")),
    ],
)
def test_money_as_people_type_it(typed, expected):
    form = bound(amount=typed)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["amount"] == expected


@pytest.mark.parametrize("typed", ["ten pounds", "1e9", "99999999999999"])
def test_money_refuses_what_is_not_an_amount(typed):
    form = bound(amount=typed)
    assert not form.is_valid()
    assert form.errors["amount"]


def test_bounded_integer_refuses_a_twenty_digit_number():
    form = bound(count="99999999999999999999")
    assert not form.is_valid()
    assert form.errors["count"] == ["Minimum priority must be 2,147,483,647 or less"]


def test_bounded_integer_names_the_field_below_its_floor():
    form = bound(count="-1")
    assert not form.is_valid()
    assert form.errors["count"] == ["Minimum priority must be 0 or more"]
