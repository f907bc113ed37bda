"""Refresh's rules at every door that reaches them.

Doors into refresh: the services, the pages (POST, signed in), the REST API (read-
only: eligibility and forecast; swaps have no API), the admin (POST as a superuser,
so a refusal comes from refresh's admin and not from missing permissions) and raw
SQL on PostgreSQL. Refresh has no import, bulk API or Celery door of its own (its
task only recomputes eligibility). Each case asserts the refusal AND that nothing
was written.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.roles import Role
from accounts.scoping import UnitScope
from core.errors import DomainError
from core.financial_year import FinancialYear
from devices.models import ATCheck, Device, DeviceEvent
from refresh import selectors, services
from refresh.models import (
    BauRate,
    DeviceEligibility,
    EligibilityRun,
    RefreshPolicy,
    RefreshWave,
    Scenario,
    WaveItem,
)
from tests.factories import BusinessUnitFactory, DeviceFactory, PersonFactory, UserFactory
from tests.refresh.conftest import policies  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999"
OLD_DESK = "Leman Street, 2nd floor"
STORE_SHELF = "DDaT Central Stores, Hendon"
FYS = [FinancialYear(2025), FinancialYear(2026)]


@pytest.fixture
def env(policies):  # noqa: F811 - the imported fixture
    north = BusinessUnitFactory(code="NORTH")
    south = BusinessUnitFactory(code="SOUTH")
    return SimpleNamespace(
        north=north,
        south=south,
        manager=UserFactory(role=Role.ASSET_MANAGER),
        colleague=UserFactory(role=Role.ASSET_MANAGER),
        finance=UserFactory(role=Role.FINANCE),
        superuser=UserFactory(is_staff=True, is_superuser=True),
    )


def make_swap(env, *, at_needs=False, store=None, stage="returned", wave_unit=None):
    """A swap in NORTH taken to ``stage`` through the services; the new laptop comes
    from ``store`` (a central store) or, without one, from NORTH's own stock."""
    person = PersonFactory(business_unit=env.north, at_needs=at_needs)
    old = DeviceFactory(
        business_unit=env.north,
        status=Device.Status.DEPLOYED,
        assigned_to=person,
        purchase_date=dt.date(2019, 1, 1),
        location=OLD_DESK,
    )
    services.eligibility_recompute()
    wave = services.wave_create(
        name=f"W{old.pk}", volume=1, actor=env.manager, business_unit=wave_unit
    )
    item = wave.items.get(old_device=old)
    new = DeviceFactory(business_unit=store or env.north, location=STORE_SHELF)
    if stage != "planned":
        services.swap_allocate(item=item, new_device=new, actor=env.manager)
    if stage in ("handed_over", "returned"):
        services.swap_hand_over(item=item, actor=env.manager)
    if stage == "returned":
        services.swap_record_return(item=item, actor=env.manager, condition="worn")
    return SimpleNamespace(item=item, old=old, new=new, person=person, wave=wave)


def state(swap):
    """Everything a swap step may write: both devices, their events, the swap, its AT checks."""
    devices = {
        d.pk: (d.status, d.business_unit_id, d.location, d.assigned_to_id, d.version)
        for d in Device.objects.filter(pk__in=[swap.old.pk, swap.new.pk])
    }
    return (
        devices,
        DeviceEvent.objects.filter(device_id__in=[swap.old.pk, swap.new.pk]).count(),
        WaveItem.objects.get(pk=swap.item.pk).status,
        list(ATCheck.objects.filter(device=swap.new).values_list("confirmed_at", "confirmed_by")),
    )


def signed_in(client, user):
    client.force_login(user)
    return client


def swap_url(swap):
    return reverse("refresh:wave_item_detail", args=[swap.wave.pk, swap.item.pk])


# --- Rule 1: completing a swap moves the new device to the person's unit and the old
# --- one back to stores; with no store unit, completion is refused. -----------------


def complete_by_service(client, env, swap):
    with pytest.raises(DomainError) as err:
        services.swap_complete(item=swap.item, actor=env.manager)
    return err.value.code, err.value.message


def complete_by_page(client, env, swap):
    response = signed_in(client, env.manager).post(swap_url(swap), {"action": "complete"})
    assert response.status_code == 400
    return response.context["error"].code, response.content.decode()


@pytest.mark.parametrize(
    "door", [complete_by_service, complete_by_page], ids=["rule1-service", "rule1-page"]
)
def test_completion_without_a_central_store_is_refused_and_writes_nothing(client, env, door):
    swap = make_swap(env)  # new laptop from NORTH's own stock; no store unit anywhere
    before = state(swap)
    code, text = door(client, env, swap)
    assert code == "no_central_store"
    assert "central store" in text
    assert state(swap) == before


@pytest.mark.parametrize("door", ["service", "page"], ids=["rule1-service", "rule1-page"])
def test_completion_moves_both_devices_and_says_where_and_why(client, env, door):
    store = BusinessUnitFactory(code="EUS-STORES")
    swap = make_swap(env, store=store)
    if door == "service":
        services.swap_complete(item=swap.item, actor=env.manager)
    else:
        response = signed_in(client, env.manager).post(swap_url(swap), {"action": "complete"})
        assert response.status_code == 302
    old, new = Device.objects.get(pk=swap.old.pk), Device.objects.get(pk=swap.new.pk)
    # the new device is counted where it is used, at the old one's desk
    assert (new.status, new.business_unit, new.location) == (
        Device.Status.DEPLOYED,
        env.north,
        OLD_DESK,
    )
    assert new.assigned_to == swap.person
    # the old device is back on the store's shelf the new one came from
    assert (old.status, old.business_unit, old.location, old.assigned_to) == (
        Device.Status.RETURNED,
        store,
        STORE_SHELF,
        None,
    )
    source = f"wave:{swap.wave.pk}"
    returned = DeviceEvent.objects.get(device=old, source=source, kind="returned")
    assert returned.details["business_unit"] == ["NORTH", "EUS-STORES"]
    assert returned.details["refresh_swap"] == swap.item.pk
    note = DeviceEvent.objects.get(device=new, source=source, kind="note")
    assert note.details["business_unit"] == ["EUS-STORES", "NORTH"]
    assert note.details["location"] == [STORE_SHELF, OLD_DESK]
    assert "refresh swap completed" in note.details["note"]
    assert WaveItem.objects.get(pk=swap.item.pk).status == WaveItem.Status.COMPLETED


def test_a_central_store_is_found_even_when_the_new_device_was_local_stock(env):
    store = BusinessUnitFactory(code="EUS-STORES")
    swap = make_swap(env)  # the new laptop came from NORTH's shelf
    services.swap_complete(item=swap.item, actor=env.manager)
    old = Device.objects.get(pk=swap.old.pk)
    # to the store; the store's location is not known, so the old location is kept
    assert (old.business_unit, old.location) == (store, OLD_DESK)


# --- Rule 2: an AT swap completes only when the handover's AT check is confirmed,
# --- by someone other than who handed over. -------------------------------------------


def at_complete_service(client, env, swap):
    with pytest.raises(DomainError) as err:
        services.swap_complete(item=swap.item, actor=env.colleague)
    return err.value.code


def at_complete_page(client, env, swap):
    response = signed_in(client, env.manager).post(swap_url(swap), {"action": "complete"})
    assert response.status_code == 400
    assert "assistive-technology needs" in response.content.decode()
    return response.context["error"].code


def at_confirm_by_hander_over_service(client, env, swap):
    with pytest.raises(DomainError) as err:
        services.swap_confirm_at(item=swap.item, actor=env.manager, note="JAWS works")
    return err.value.code


def at_confirm_by_hander_over_page(client, env, swap):
    response = signed_in(client, env.manager).post(
        swap_url(swap), {"action": "confirm_at", "note": "JAWS works"}
    )
    assert response.status_code == 400
    assert "someone other than" in response.content.decode()
    return response.context["error"].code


def at_confirm_blank_note_service(client, env, swap):
    with pytest.raises(DomainError) as err:
        services.swap_confirm_at(item=swap.item, actor=env.colleague, note="   ")
    return err.value.field


def at_status_by_admin(client, env, swap):
    response = signed_in(client, env.superuser).post(
        f"/admin/refresh/waveitem/{swap.item.pk}/change/", {"status": "completed"}
    )
    return response.status_code


def at_confirmation_added_in_admin(client, env, swap):
    response = signed_in(client, env.superuser).post(
        "/admin/refresh/atconfirmation/add/",
        {"wave_item": swap.item.pk, "note": "works", "confirmed_by": env.superuser.pk},
    )
    return response.status_code


@pytest.mark.parametrize(
    ("door", "expected"),
    [
        (at_complete_service, "at_confirmation_required"),
        (at_complete_page, "at_confirmation_required"),
        (at_confirm_by_hander_over_service, "same_person"),
        (at_confirm_by_hander_over_page, "same_person"),
        (at_confirm_blank_note_service, "note"),
        (at_status_by_admin, 403),
        (at_confirmation_added_in_admin, 403),
    ],
    ids=[
        "rule2-complete-service",
        "rule2-complete-page",
        "rule2-same-person-service",
        "rule2-same-person-page",
        "rule2-blank-note-service",
        "rule2-status-admin",
        "rule2-confirmation-admin",
    ],
)
def test_an_at_swap_needs_a_confirmed_check_by_someone_else(client, env, door, expected):
    swap = make_swap(env, at_needs=True, store=BusinessUnitFactory(code="EUS-STORES"))
    # the handover opened the devices AT check, naming who handed over
    check = ATCheck.objects.get(device=swap.new, person=swap.person)
    assert (check.deployed_by, check.confirmed_at) == (env.manager, None)
    before = state(swap)
    assert door(client, env, swap) == expected
    assert state(swap) == before


def test_a_colleague_confirms_and_then_the_swap_completes(client, env):
    swap = make_swap(env, at_needs=True, store=BusinessUnitFactory(code="EUS-STORES"))
    response = signed_in(client, env.colleague).post(
        swap_url(swap), {"action": "confirm_at", "note": "NVDA and ZoomText tested"}
    )
    assert response.status_code == 302
    check = ATCheck.objects.get(device=swap.new, person=swap.person)
    assert (check.confirmed_by, check.note) == (env.colleague, "NVDA and ZoomText tested")
    assert services.swap_complete(item=swap.item, actor=env.manager).status == "completed"


# --- Rule 3: every number is bounded, with a field error, never a 500. ---------------


def wave_page(field, value):
    def post(client, env):
        data = {"name": "Big", "min_priority": "0", "volume": "10", field: value}
        response = signed_in(client, env.manager).post(reverse("refresh:wave_list"), data)
        assert response.status_code == 200
        return set(response.context["form"].errors)

    return post


def wave_service(field, value):
    def call(client, env):
        kwargs = {"name": "Big", "volume": 10, "actor": env.manager, field: value}
        with pytest.raises(DomainError) as err:
            services.wave_create(**kwargs)
        return {err.value.field}

    return call


def bau_page(client, env):
    data = {
        "category": "laptop",
        "new_starters_per_year": HUGE,
        "breakage_rate_pct": "1",
        "growth_pct": "1",
    }
    response = signed_in(client, env.finance).post(reverse("refresh:bau_rates"), data)
    assert response.status_code == 200
    return set(response.context["form"].errors)


def bau_service(client, env):
    with pytest.raises(DomainError) as err:
        services.bau_rate_save(
            category="laptop",
            new_starters_per_year=int(HUGE),
            breakage_rate_pct=1,
            growth_pct=1,
            actor=env.finance,
        )
    return {err.value.field}


def scenario_page(client, env):
    data = {"name": "Dear laptops", "unit_prices__laptop": HUGE}
    response = signed_in(client, env.finance).post(reverse("refresh:scenario_create"), data)
    assert response.status_code == 200
    return set(response.context["form"].errors)


def scenario_caps_service(client, env):
    with pytest.raises(DomainError) as err:
        services.scenario_save(
            name="Caps",
            overrides={"volume_caps": {"2025/26": {"laptop": int(HUGE)}}},
            actor=env.finance,
        )
    return {err.value.field}


def scenario_nan_service(client, env):
    with pytest.raises(DomainError) as err:
        services.scenario_save(
            name="NaN", overrides={"unit_prices": {"laptop": "NaN"}}, actor=env.finance
        )
    return {err.value.field}


def policy_page(client, env):
    data = {
        "policy-category": "laptop",
        "policy-effective_from": "2031-01-01",
        "policy-lifecycle_months": HUGE,
        "policy-repair_threshold": "3",
        "policy-idle_days": "90",
    }
    response = signed_in(client, env.manager).post(reverse("refresh:policy_list"), data)
    assert response.status_code == 200
    return set(response.context["policy_form"].errors)


def policy_admin(client, env):
    data = {
        "category": "laptop",
        "effective_from": "2031-01-01",
        "lifecycle_months": "48",
        "repair_threshold": HUGE,
        "idle_days": "90",
    }
    response = signed_in(client, env.superuser).post("/admin/refresh/refreshpolicy/add/", data)
    assert response.status_code == 200
    return set(response.context["adminform"].form.errors)


def api_get(url, status):
    def get(client, env):
        api = APIClient()
        api.force_authenticate(env.finance)
        response = api.get(url)
        assert response.status_code == status, response.content
        body = response.json() if status != 404 else {}
        return set(body.get("error", {}).get("fields", {})) or {status}

    return get


BOUND_CASES = [
    (wave_page("min_priority", HUGE), {"min_priority"}, RefreshWave),
    (wave_page("min_priority", "-1"), {"min_priority"}, RefreshWave),
    (wave_page("volume", HUGE), {"volume"}, RefreshWave),
    (wave_service("min_priority", int(HUGE)), {"min_priority"}, RefreshWave),
    (wave_service("volume", int(HUGE)), {"volume"}, RefreshWave),
    (bau_page, {"new_starters_per_year"}, BauRate),
    (bau_service, {"new_starters_per_year"}, BauRate),
    (scenario_page, {"unit_prices__laptop"}, Scenario),
    (scenario_caps_service, {"volume_caps"}, Scenario),
    (scenario_nan_service, {"unit_prices"}, Scenario),
    (policy_page, {"lifecycle_months"}, RefreshPolicy),
    (policy_admin, {"repair_threshold"}, RefreshPolicy),
    (api_get(f"/api/v1/refresh/eligibility/?business_unit={HUGE}", 400), {"business_unit"}, None),
    (api_get(f"/api/v1/refresh/eligibility/{HUGE}/", 404), {404}, None),
    (api_get("/api/v1/refresh/forecast/?from=9999/00", 400), {"from"}, None),
    (api_get(f"/api/v1/refresh/forecast/?years={HUGE}", 400), {"years"}, None),
]


@pytest.mark.parametrize(
    ("door", "fields", "model"),
    BOUND_CASES,
    ids=[
        "rule3-wave-min-priority-page",
        "rule3-wave-negative-priority-page",
        "rule3-wave-volume-page",
        "rule3-wave-min-priority-service",
        "rule3-wave-volume-service",
        "rule3-bau-new-starters-page",
        "rule3-bau-new-starters-service",
        "rule3-scenario-price-page",
        "rule3-scenario-cap-service",
        "rule3-scenario-nan-service",
        "rule3-policy-lifecycle-page",
        "rule3-policy-repairs-admin",
        "rule3-eligibility-unit-api",
        "rule3-eligibility-device-api",
        "rule3-forecast-from-api",
        "rule3-forecast-years-api",
    ],
)
def test_numbers_out_of_range_are_field_errors_and_write_nothing(client, env, door, fields, model):
    make_swap(env, stage="planned")  # a wave, so there is something to count
    counts = {m: m.objects.count() for m in (RefreshWave, BauRate, Scenario, RefreshPolicy)}
    assert door(client, env) == fields
    assert {m: m.objects.count() for m in counts} == counts


def test_an_out_of_range_device_id_is_refused_as_unknown_on_the_swap_page(client, env):
    swap = make_swap(env, stage="planned")
    before = state(swap)
    response = signed_in(client, env.manager).post(
        swap_url(swap), {"action": "allocate", "new_device": HUGE}
    )
    assert response.status_code == 400
    assert services.DEVICE_NOT_FOUND in response.content.decode()
    assert state(swap) == before


def test_an_out_of_range_cursor_is_ignored_on_the_eligibility_page(client, env):
    response = signed_in(client, env.manager).get(
        reverse("refresh:eligibility"), {"after": f"1:{HUGE}"}
    )
    assert response.status_code == 200


# --- Rule 4: scope applies to the scenario comparison and the forecast. -------------


@pytest.fixture
def two_units_due(env):
    for unit, n in ((env.north, 2), (env.south, 5)):
        for _ in range(n):
            DeviceFactory(
                business_unit=unit,
                status=Device.Status.DEPLOYED,
                assigned_to=PersonFactory(business_unit=unit),
                purchase_date=dt.date(2019, 1, 1),
            )
    services.eligibility_recompute(today=dt.date(2025, 6, 15))
    return services.scenario_save(
        name="Defer laptops", overrides={"defer_years": {"laptop": 1}}, actor=env.finance
    )


def volumes(rows, key):
    return sum(r[key] for r in rows)


def compare_selector(client, env, scenario):
    scope = UnitScope.subtree(env.north)
    return volumes(
        selectors.scenario_compare(scenario=scenario, financial_years=FYS, scope=scope)["rows"],
        "base_volume",
    )


def compare_page(client, env, scenario):
    scoped = UserFactory(role=Role.FINANCE, units=[env.north])
    response = signed_in(client, scoped).get(
        reverse("refresh:scenario_compare", args=[scenario.pk]), {"from": "2025/26"}
    )
    assert response.status_code == 200
    return volumes(response.context["result"]["rows"], "base_volume")


def forecast_page(client, env, scenario):
    scoped = UserFactory(role=Role.ASSET_MANAGER, units=[env.north])
    response = signed_in(client, scoped).get(reverse("refresh:forecast"), {"from": "2025/26"})
    return sum(r["refresh_volume"] for r in response.context["rows"])


def forecast_api(client, env, scenario):
    api = APIClient()
    api.force_authenticate(UserFactory(role=Role.FINANCE, units=[env.north]))
    rows = api.get("/api/v1/refresh/forecast/", {"from": "2025/26", "years": 2}).json()
    return sum(r["refresh_volume"] for r in rows["results"])


@pytest.mark.parametrize(
    "door",
    [compare_selector, compare_page, forecast_page, forecast_api],
    ids=[
        "rule4-compare-selector",
        "rule4-compare-page",
        "rule4-forecast-page",
        "rule4-forecast-api",
    ],
)
def test_a_viewer_scoped_to_one_unit_sees_that_units_volumes_only(client, env, two_units_due, door):
    # NORTH has 2 due laptops, SOUTH 5: a NORTH viewer must see 2, never 7.
    assert door(client, env, two_units_due) == 2


def test_procurements_call_without_scope_still_compares_the_whole_estate(env, two_units_due):
    # procurement.selectors.scenario_against_envelope calls it exactly like this.
    result = selectors.scenario_compare(scenario=two_units_due, financial_years=FYS)
    assert volumes(result["rows"], "base_volume") == 7


# --- Rule 5: the admin writes only through the services, or not at all. ------------


def admin_cases(env, swap):
    other = PersonFactory(business_unit=env.north)
    policy = RefreshPolicy.objects.first()
    eligibility = DeviceEligibility.objects.first()
    rate = services.bau_rate_save(
        category="laptop", new_starters_per_year=1, breakage_rate_pct=1, growth_pct=1
    )
    scenario = services.scenario_save(name="S", overrides={}, actor=env.finance)
    run = EligibilityRun.objects.first()
    return {
        "waveitem-change": (
            f"/admin/refresh/waveitem/{swap.item.pk}/change/",
            {"person": other.pk, "old_device": swap.new.pk, "status": "completed"},
        ),
        "waveitem-add": ("/admin/refresh/waveitem/add/", {"wave": swap.wave.pk}),
        "waveitem-delete": (f"/admin/refresh/waveitem/{swap.item.pk}/delete/", {"post": "yes"}),
        "wave-change": (
            f"/admin/refresh/refreshwave/{swap.wave.pk}/change/",
            {"name": "Renamed", "volume": 1, "min_priority": 0},
        ),
        "policy-change": (
            f"/admin/refresh/refreshpolicy/{policy.pk}/change/",
            {"lifecycle_months": 12},
        ),
        "policy-delete": (f"/admin/refresh/refreshpolicy/{policy.pk}/delete/", {"post": "yes"}),
        "eligibility-change": (
            f"/admin/refresh/deviceeligibility/{eligibility.pk}/change/",
            {"is_due": ""},
        ),
        "eligibility-delete": (
            f"/admin/refresh/deviceeligibility/{eligibility.pk}/delete/",
            {"post": "yes"},
        ),
        "baurate-change": (
            f"/admin/refresh/baurate/{rate.pk}/change/",
            {"category": "laptop", "new_starters_per_year": 5},
        ),
        "scenario-change": (
            f"/admin/refresh/scenario/{scenario.pk}/change/",
            {"name": "Renamed", "overrides": '{"bogus": 1}'},
        ),
        "eligibilityrun-change": (
            f"/admin/refresh/eligibilityrun/{run.pk}/change/",
            {"device_count": 0},
        ),
    }


ADMIN_CASE_IDS = [
    "waveitem-change",
    "waveitem-add",
    "waveitem-delete",
    "wave-change",
    "policy-change",
    "policy-delete",
    "eligibility-change",
    "eligibility-delete",
    "baurate-change",
    "scenario-change",
    "eligibilityrun-change",
]


def admin_snapshot():
    return (
        list(WaveItem.objects.values_list("pk", "person_id", "old_device_id", "status")),
        list(RefreshWave.objects.values_list("pk", "name")),
        list(RefreshPolicy.objects.values_list("pk", "lifecycle_months")),
        list(DeviceEligibility.objects.values_list("pk", "is_due")),
        list(BauRate.objects.values_list("pk", "new_starters_per_year")),
        list(Scenario.objects.values_list("pk", "name", "overrides")),
        list(EligibilityRun.objects.values_list("pk", "device_count")),
    )


@pytest.mark.parametrize("case", ADMIN_CASE_IDS, ids=[f"rule5-admin-{c}" for c in ADMIN_CASE_IDS])
def test_the_admin_refuses_writes_the_services_own(client, env, case):
    swap = make_swap(env, stage="planned")
    url, data = admin_cases(env, swap)[case]
    before = admin_snapshot()
    response = signed_in(client, env.superuser).post(url, data)
    assert response.status_code == 403
    assert admin_snapshot() == before


def test_a_policy_added_in_the_admin_goes_through_the_service(client, env):
    data = {
        "category": "laptop",
        "effective_from": "2031-01-01",
        "lifecycle_months": "60",
        "repair_threshold": "3",
        "idle_days": "90",
    }
    response = signed_in(client, env.superuser).post("/admin/refresh/refreshpolicy/add/", data)
    assert response.status_code == 302
    added = RefreshPolicy.objects.get(effective_from=dt.date(2031, 1, 1))
    assert (added.lifecycle_months, added.created_by) == (60, env.superuser)


# --- Rules 3 and 6 in the database (PostgreSQL): raw SQL is refused. -----------------


def refused(sql, params=()):
    """Run ``sql`` in a savepoint; True when the database refuses it."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except IntegrityError:
        return True
    return False


HISTORY_TABLES = [
    "refresh_historicalrefreshpolicy",
    "refresh_historicalosendofsupport",
    "refresh_historicalbaurate",
    "refresh_historicalscenario",
    "refresh_historicalrefreshwave",
    "refresh_historicalwaveitem",
]


@pytest.mark.postgres
@pytest.mark.parametrize(
    "table", HISTORY_TABLES, ids=[f"rule6-sql-{t[8:]}" for t in HISTORY_TABLES]
)
def test_refresh_history_is_append_only_in_the_database(env, table):
    # Each table gets rows through the services, as in life.
    services.os_end_of_support_save(os_prefix="Windows 10", end_of_support=dt.date(2025, 10, 14))
    services.bau_rate_save(
        category="laptop", new_starters_per_year=1, breakage_rate_pct=1, growth_pct=1
    )
    services.scenario_save(name="S", overrides={}, actor=env.finance)
    make_swap(env, stage="handed_over")
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*), max(history_id) FROM {table}")  # noqa: S608 - fixed names
        before = cursor.fetchone()
    assert before[0] > 0
    assert refused(f"UPDATE {table} SET history_change_reason = 'edited'")  # noqa: S608
    assert refused(f"DELETE FROM {table}")  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*), max(history_id) FROM {table}")  # noqa: S608
        assert cursor.fetchone() == before
        cursor.execute(
            f"SELECT count(*) FROM {table} WHERE history_change_reason = 'edited'"  # noqa: S608
        )
        assert cursor.fetchone() == (0,)


@pytest.mark.postgres
def test_a_finished_eligibility_run_is_append_only_but_the_service_still_runs(env):
    run = services.eligibility_recompute()  # updates its run before finishing: allowed
    assert run.finished_at is not None
    assert refused("UPDATE refresh_eligibilityrun SET device_count = 0 WHERE id = %s", [run.pk])
    assert refused("DELETE FROM refresh_eligibilityrun WHERE id = %s", [run.pk])
    assert EligibilityRun.objects.get(pk=run.pk).device_count == run.device_count


@pytest.mark.postgres
def test_retired_at_confirmations_are_append_only(env):
    from django.utils import timezone

    from refresh.models import ATConfirmation

    swap = make_swap(env, stage="handed_over")
    row = ATConfirmation.objects.create(
        wave_item=swap.item, confirmed_by=env.colleague, confirmed_at=timezone.now(), note="ok"
    )
    assert refused("UPDATE refresh_atconfirmation SET note = 'x' WHERE id = %s", [row.pk])
    assert refused("DELETE FROM refresh_atconfirmation WHERE id = %s", [row.pk])
    assert ATConfirmation.objects.get(pk=row.pk).note == "ok"


@pytest.mark.postgres
@pytest.mark.parametrize("value", [-1, 100_001], ids=["rule3-sql-negative", "rule3-sql-huge"])
def test_a_waves_minimum_priority_is_bounded_in_the_database(env, value):
    swap = make_swap(env, stage="planned")
    assert refused(
        "UPDATE refresh_refreshwave SET min_priority = %s WHERE id = %s", [value, swap.wave.pk]
    )
    assert RefreshWave.objects.get(pk=swap.wave.pk).min_priority == 0


# --- Rule 7: a swap step records what the engineer knows, and a cancellation has a
# --- reason, whichever door writes it: service, page (its confirmation step), admin,
# --- raw SQL (PostgreSQL). ---------------------------------------------------------------


def steps_state(swap):
    from refresh.models import SwapStep

    return (state(swap), list(SwapStep.objects.filter(item=swap.item).values_list("pk", "step")))


def cancel_url(swap):
    return reverse("refresh:wave_item_cancel", args=[swap.wave.pk, swap.item.pk])


def cancel_blank_reason_service(client, env, swap):
    with pytest.raises(DomainError) as err:
        services.swap_cancel(item=swap.item, actor=env.manager, reason=" ")
    return err.value.field


def cancel_blank_reason_page(client, env, swap):
    response = signed_in(client, env.manager).post(
        cancel_url(swap), {"reason": "", "confirm": "yes"}
    )
    assert response.status_code == 400
    return next(iter(response.context["form"].errors))


def cancel_unconfirmed_page(client, env, swap):
    # A reason alone only shows the confirmation step.
    response = signed_in(client, env.manager).post(cancel_url(swap), {"reason": "Left"})
    assert response.status_code == 200
    return "confirm" if response.context["confirming"] else "cancelled"


def cancel_old_action_page(client, env, swap):
    # The swap page's one-click cancel is gone: an unknown step, refused.
    response = signed_in(client, env.manager).post(swap_url(swap), {"action": "cancel"})
    return response.status_code


def cancel_by_viewer_page(client, env, swap):
    viewer = UserFactory(role=Role.UNIT_VIEWER)
    response = signed_in(client, viewer).post(
        cancel_url(swap), {"reason": "Left", "confirm": "yes"}
    )
    return response.status_code


def step_in_the_future_service(client, env, swap):
    with pytest.raises(DomainError) as err:
        services.swap_hand_over(
            item=swap.item,
            actor=env.manager,
            occurred_on=timezone.localdate() + dt.timedelta(days=2),
        )
    return err.value.field


def step_in_the_future_page(client, env, swap):
    day = timezone.localdate() + dt.timedelta(days=2)
    response = signed_in(client, env.manager).post(
        swap_url(swap),
        {
            "action": "hand_over",
            "occurred_on_day": day.day,
            "occurred_on_month": day.month,
            "occurred_on_year": day.year,
        },
    )
    assert response.status_code == 400
    return response.context["error"].field


def step_admin_add(client, env, swap):
    response = signed_in(client, env.superuser).post(
        "/admin/refresh/swapstep/add/",
        {"item": swap.item.pk, "step": "cancelled", "occurred_on": "2025-06-01", "reason": "x"},
    )
    return response.status_code


@pytest.mark.parametrize(
    ("door", "stage", "expected"),
    [
        (cancel_blank_reason_service, "allocated", "reason"),
        (cancel_blank_reason_page, "allocated", "reason"),
        (cancel_unconfirmed_page, "allocated", "confirm"),
        (cancel_old_action_page, "allocated", 400),
        (cancel_by_viewer_page, "allocated", 403),
        (step_in_the_future_service, "allocated", "occurred_on"),
        (step_in_the_future_page, "allocated", "occurred_on"),
        (step_admin_add, "allocated", 403),
    ],
    ids=[
        "rule7-cancel-reason-service",
        "rule7-cancel-reason-page",
        "rule7-cancel-confirmation-page",
        "rule7-cancel-one-click-page",
        "rule7-cancel-role-page",
        "rule7-future-date-service",
        "rule7-future-date-page",
        "rule7-step-admin",
    ],
)
def test_a_swap_step_is_refused_without_what_it_must_record(client, env, door, stage, expected):
    swap = make_swap(env, stage=stage)
    before = steps_state(swap)
    assert door(client, env, swap) == expected
    assert steps_state(swap) == before


def allocate_out_of_scope_service(client, env, swap, theirs):
    scoped = UserFactory(role=Role.ASSET_MANAGER, units=[env.north])
    with pytest.raises(DomainError) as err:
        services.swap_allocate_by_code(item=swap.item, code=theirs.asset_tag, actor=scoped)
    return err.value.code, err.value.message


def allocate_out_of_scope_page(client, env, swap, theirs):
    scoped = UserFactory(role=Role.ASSET_MANAGER, units=[env.north])
    response = signed_in(client, scoped).post(
        swap_url(swap), {"action": "allocate", "code": theirs.asset_tag}
    )
    assert response.status_code == 400
    return response.context["error"].code, response.content.decode()


@pytest.mark.parametrize(
    "door",
    [allocate_out_of_scope_service, allocate_out_of_scope_page],
    ids=["rule8-scan-scope-service", "rule8-scan-scope-page"],
)
def test_a_scanned_device_outside_the_callers_units_is_not_found(client, env, door):
    swap = make_swap(env, stage="planned", wave_unit=env.north)
    theirs = DeviceFactory(business_unit=env.south, asset_tag="SOUTH-7")
    before = steps_state(swap)
    code, text = door(client, env, swap, theirs)
    assert code == "not_found"
    assert "“SOUTH-7” in your units" in text
    assert theirs.serial_number not in text and "SOUTH" not in text.replace("SOUTH-7", "")
    assert steps_state(swap) == before


@pytest.mark.postgres
def test_swap_steps_are_append_only_and_checked_in_the_database(env):
    from refresh.models import SwapStep

    swap = make_swap(env, stage="returned")
    step = SwapStep.objects.get(item=swap.item, step="returned")
    assert refused("UPDATE refresh_swapstep SET notes = 'edited' WHERE id = %s", [step.pk])
    assert refused("DELETE FROM refresh_swapstep WHERE id = %s", [step.pk])
    insert = (
        "INSERT INTO refresh_swapstep (item_id, step, occurred_on, old_device_condition, "
        "notes, reason, recorded_at) VALUES (%s, %s, CURRENT_DATE, %s, '', %s, now())"
    )
    assert refused(insert, [swap.item.pk, "cancelled", "", ""])  # no reason
    assert refused(insert, [swap.item.pk, "returned", "", ""])  # no condition
    assert refused(insert, [swap.item.pk, "returned", "shiny", ""])  # unknown condition
    assert refused(insert, [swap.item.pk, "lost", "", ""])  # unknown step
    assert not refused(insert, [swap.item.pk, "cancelled", "", "A real reason"])
    assert SwapStep.objects.get(pk=step.pk).notes == step.notes
