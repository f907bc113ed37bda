"""Hostile input to refresh's pages, exports and API (issue 13): every number bounded,
every date in a sane range, money typed as people type it, free text bounded and
escaped, and every download or API answer says how it is marked (``X-Classification``,
which the security log reads). Each case expects a clean refusal naming the field,
and nothing written."""

import json
import logging

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.roles import Role
from core.exports import OFFICIAL, OFFICIAL_SENSITIVE_COMMERCIAL
from core.security_log import JsonLineFormatter
from devices.models import Device
from refresh import services
from refresh.models import (
    BaselineSnapshot,
    BauRate,
    OsEndOfSupport,
    RefreshPolicy,
    RefreshWave,
    Scenario,
    SwapStep,
    WaveItem,
)
from tests.factories import BusinessUnitFactory, DeviceFactory, PersonFactory
from tests.refresh.conftest import policies  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999"


@pytest.fixture
def estate(policies, make_user):  # noqa: F811 - the imported fixture
    north = BusinessUnitFactory(code="NORTH")
    person = PersonFactory(business_unit=north)
    DeviceFactory(
        business_unit=north,
        status=Device.Status.DEPLOYED,
        assigned_to=person,
        purchase_date="2019-01-01",
    )
    services.eligibility_recompute()
    return {
        "north": north,
        "manager": make_user(Role.ASSET_MANAGER),
        "finance": make_user(Role.FINANCE),
    }


def counts():
    return {
        m.__name__: m.objects.count()
        for m in (RefreshWave, RefreshPolicy, OsEndOfSupport, BauRate, BaselineSnapshot, Scenario)
    }


def field_errors(response, form="form"):
    assert response.status_code in (200, 400), response.status_code
    return {
        name: [str(e) for e in errors] for name, errors in response.context[form].errors.items()
    }


# --- Numbers: bounded, with a message that names the field ---------------------------


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("min_priority", HUGE, "Minimum priority must be 100,000 or less"),
        ("min_priority", "-1", "Minimum priority must be 0 or more"),
        ("volume", HUGE, "Volume must be 5,000 or less"),
        ("volume", "1e3", "Volume must be a number"),
    ],
    ids=["priority-huge", "priority-negative", "volume-huge", "volume-exponent"],
)
def test_the_wave_forms_numbers_are_bounded(client, estate, field, value, message):
    client.force_login(estate["manager"])
    before = counts()
    data = {"name": "Hostile", "min_priority": "0", "volume": "10", field: value}
    response = client.post(reverse("refresh:wave_list"), data)
    assert field_errors(response) == {field: [message]}
    assert counts() == before


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"policy-lifecycle_months": HUGE}, "lifecycle_months"),
        ({"policy-repair_threshold": HUGE}, "repair_threshold"),
        ({"policy-idle_days": "1" * 40}, "idle_days"),
        ({"policy-effective_from": "0001-01-01"}, "effective_from"),
        (
            {
                "policy-effective_from_day": "31",
                "policy-effective_from_month": "2",
                "policy-effective_from_year": "2031",
            },
            "effective_from",
        ),
        ({"policy-effective_from_year": "99999999999"}, "effective_from"),
    ],
    ids=["lifecycle", "repairs", "idle", "year-0001", "31-february", "year-huge"],
)
def test_the_policy_form_refuses_absurd_numbers_and_dates(client, estate, data, field):
    client.force_login(estate["manager"])
    before = counts()
    posted = {
        "policy-category": "laptop",
        "policy-effective_from": "2031-01-01",
        "policy-lifecycle_months": "48",
        "policy-repair_threshold": "3",
        "policy-idle_days": "90",
        **data,
    }
    if any(k.endswith(("_day", "_month", "_year")) for k in data):
        posted.pop("policy-effective_from")
        posted.setdefault("policy-effective_from_day", "1")
        posted.setdefault("policy-effective_from_month", "1")
    response = client.post(reverse("refresh:policy_list"), posted)
    errors = field_errors(response, "policy_form")
    assert list(errors) == [field]
    assert all(
        e.split(" ")[0] in ("Effective", "Lifecycle", "Repairs", "Idle") for e in errors[field]
    )
    assert counts() == before


def test_an_os_end_of_support_in_year_20226_is_refused(client, estate):
    client.force_login(estate["manager"])
    response = client.post(
        reverse("refresh:policy_list"),
        {
            "os-os_prefix": "Windows 10",
            "os-end_of_support_day": "14",
            "os-end_of_support_month": "10",
            "os-end_of_support_year": "20226",
        },
    )
    assert field_errors(response, "os_form") == {
        "end_of_support": ["End of support must be a real date, with a four-digit year"]
    }
    assert not OsEndOfSupport.objects.exists()


@pytest.mark.parametrize(
    ("value", "stored"),
    [("£1,250", "1250.00"), ("1,250.50", "1250.50"), (" 900 ", "900.00")],
    ids=["pounds-and-comma", "comma-and-pence", "spaces"],
)
def test_money_is_typed_as_people_write_it(client, estate, value, stored):
    client.force_login(estate["finance"])
    response = client.post(
        reverse("refresh:bau_rates"),
        {
            "category": "laptop",
            "new_starters_per_year": "1000",
            "breakage_rate_pct": "1",
            "growth_pct": "0",
            "planning_unit_price": value,
        },
    )
    assert response.status_code == 302, field_errors(response)
    assert str(BauRate.objects.get(category="laptop").planning_unit_price) == stored


@pytest.mark.parametrize(
    "value",
    ["£" + HUGE, "1e400", "NaN", "-5", "12.345"],
    ids=["huge", "exp", "nan", "neg", "mills"],
)
def test_absurd_money_is_a_field_error(client, estate, value):
    client.force_login(estate["finance"])
    before = counts()
    response = client.post(
        reverse("refresh:bau_rates"),
        {
            "category": "laptop",
            "new_starters_per_year": "10",
            "breakage_rate_pct": "1",
            "growth_pct": "0",
            "planning_unit_price": value,
        },
    )
    assert list(field_errors(response)) == ["planning_unit_price"]
    assert counts() == before


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"lifecycle_months__laptop": HUGE}, "lifecycle_months__laptop"),
        ({"unit_prices__laptop": "£" + HUGE}, "unit_prices__laptop"),
        ({"defer_years__laptop": "-1"}, "defer_years__laptop"),
    ],
    ids=["lifecycle", "price", "defer"],
)
def test_the_scenario_forms_numbers_are_bounded(client, estate, data, field):
    client.force_login(estate["finance"])
    before = counts()
    response = client.post(reverse("refresh:scenario_create"), {"name": "Hostile", **data})
    assert list(field_errors(response)) == [field]
    assert counts() == before


def test_a_scenario_price_typed_with_a_comma_is_accepted(client, estate):
    client.force_login(estate["finance"])
    response = client.post(
        reverse("refresh:scenario_create"), {"name": "Dear", "unit_prices__laptop": "£1,250"}
    )
    assert response.status_code == 302, field_errors(response)
    assert Scenario.objects.get(name="Dear").overrides["unit_prices"] == {"laptop": "1250.00"}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"first_year": "0001/02"}, "first_year"),
        ({"years": HUGE}, "years"),
        ({"as_of_year": "0001"}, "as_of"),
    ],
    ids=["year-0001", "years-huge", "as-of-0001"],
)
def test_a_baseline_for_year_one_is_refused(client, estate, data, field):
    client.force_login(estate["finance"])
    before = counts()
    posted = {
        "name": "Hostile",
        "as_of_day": "30",
        "as_of_month": "11",
        "as_of_year": "2024",
        "first_year": "2025/26",
        "years": "2",
        **data,
    }
    response = client.post(reverse("refresh:baseline_create"), posted)
    assert response.status_code == 400
    assert list(field_errors(response)) == [field]
    assert counts() == before


# --- Swaps: free text and codes bounded, markup escaped ------------------------------


@pytest.fixture
def swap(estate):
    wave = services.wave_create(name="<script>alert(1)</script>", volume=1, actor=estate["manager"])
    item = wave.items.get()
    url = reverse("refresh:wave_item_detail", args=[wave.pk, item.pk])
    return {"wave": wave, "item": item, "url": url}


def swap_state(item):
    item = WaveItem.objects.get(pk=item.pk)
    return item.status, item.new_device_id, SwapStep.objects.count()


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"code": "AB\x00123"}, "code"),
        ({"code": "A" * 10_000}, "code"),
        ({"code": "TAG\u202e321"}, "code"),
        ({"code": "TAG1", "notes": "n" * 5_000}, "notes"),
        ({"code": "TAG1", "occurred_on_year": HUGE}, "occurred_on"),
        ({"new_device": HUGE}, "code"),
        ({"new_device": "1; DROP TABLE devices_device"}, "code"),
    ],
    ids=["nul", "10k", "bidi", "notes-5k", "year-huge", "id-huge", "id-sql"],
)
def test_hostile_allocation_input_is_a_field_error_and_writes_nothing(
    client, estate, swap, data, field
):
    client.force_login(estate["manager"])
    before = swap_state(swap["item"])
    response = client.post(swap["url"], {"action": "allocate", **data})
    assert response.status_code == 400
    assert field in response.context["step_form"].errors
    assert swap_state(swap["item"]) == before


def test_markup_in_names_and_reasons_is_shown_as_text(client, estate, swap):
    client.force_login(estate["manager"])
    for url in (
        reverse("refresh:wave_list"),
        reverse("refresh:wave_detail", args=[swap["wave"].pk]),
        swap["url"],
    ):
        page = client.get(url).content.decode()
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "<script>alert(1)" not in page
    cancel = reverse("refresh:wave_item_cancel", args=[swap["wave"].pk, swap["item"].pk])
    page = client.post(cancel, {"reason": '"><img src=x onerror=alert(1)>'}).content.decode()
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page


def test_a_cancellation_reason_is_bounded(client, estate, swap):
    client.force_login(estate["manager"])
    cancel = reverse("refresh:wave_item_cancel", args=[swap["wave"].pk, swap["item"].pk])
    response = client.post(cancel, {"reason": "r" * 501, "confirm": "yes"})
    assert list(field_errors(response)) == ["reason"]
    assert swap_state(swap["item"])[0] == WaveItem.Status.PLANNED


# --- Classification on every download and API answer ---------------------------------


@pytest.fixture
def events(caplog):
    caplog.set_level(logging.INFO, logger="security")
    formatter = JsonLineFormatter()

    def _events(name):
        lines = [json.loads(formatter.format(r)) for r in caplog.records if r.name == "security"]
        return [line for line in lines if line["event"] == name]

    return _events


@pytest.mark.parametrize(
    ("who", "marking"),
    [("finance", OFFICIAL_SENSITIVE_COMMERCIAL), ("manager", OFFICIAL)],
)
@pytest.mark.parametrize(
    "url",
    [
        "/refresh/forecast/export.csv",
        "/api/v1/refresh/forecast/",
    ],
    ids=["forecast-csv", "forecast-api"],
)
def test_forecast_downloads_and_answers_carry_their_marking(
    client, estate, events, who, marking, url
):
    user = estate[who]
    if url.startswith("/api/"):
        api = APIClient()
        api.force_authenticate(user)
        response = api.get(url)
    else:
        client.force_login(user)
        response = client.get(url)
    assert response.status_code == 200
    assert response["X-Classification"] == marking
    logged = events("commercial_export")
    assert len(logged) == (1 if marking == OFFICIAL_SENSITIVE_COMMERCIAL else 0)


@pytest.mark.parametrize(
    "url",
    ["/refresh/export.csv", "/refresh/export.xlsx", "/api/v1/refresh/eligibility/"],
    ids=["eligibility-csv", "eligibility-xlsx", "eligibility-api"],
)
def test_eligibility_downloads_and_answers_are_marked_official(client, estate, url):
    if url.startswith("/api/"):
        api = APIClient()
        api.force_authenticate(estate["finance"])
        response = api.get(url)
    else:
        client.force_login(estate["finance"])
        response = client.get(url)
    assert response.status_code == 200
    assert response["X-Classification"] == OFFICIAL
