"""The refresh pages: scope, roles, commercial fields and query counts."""

import datetime as dt
from decimal import Decimal

import pytest
from django.urls import reverse
from django_celery_beat.models import PeriodicTask

from accounts.roles import Role
from core.exports import OFFICIAL_SENSITIVE_COMMERCIAL
from devices.models import Device
from refresh import services
from refresh.models import WaveItem
from tests.factories import BusinessUnitFactory, DeviceEventFactory, DeviceFactory, PersonFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def units(policies):
    return BusinessUnitFactory(code="NORTH"), BusinessUnitFactory(code="SOUTH")


def add_devices(unit, n, *, deployed=True):
    made = []
    for _ in range(n):
        person = PersonFactory(business_unit=unit) if deployed else None
        device = DeviceFactory(
            business_unit=unit,
            status=Device.Status.DEPLOYED if deployed else Device.Status.IN_STOCK,
            assigned_to=person,
            purchase_date=dt.date(2019, 1, 1),
        )
        DeviceEventFactory(device=device, kind="repaired")
        made.append(device)
    return made


def test_nightly_recompute_is_scheduled_after_migrate():
    task = PeriodicTask.objects.get(task="refresh.tasks.eligibility_recompute_task")
    assert task.enabled
    assert (task.crontab.hour, task.crontab.minute) == ("2", "0")
    assert str(task.crontab.timezone) == "Europe/London"


def test_unit_viewer_sees_only_their_units_devices(client, make_user, units):
    north, south = units
    mine = add_devices(north, 1)[0]
    theirs = add_devices(south, 1)[0]
    services.eligibility_recompute()
    client.force_login(make_user(Role.UNIT_VIEWER, units=[north]))
    body = client.get(reverse("refresh:eligibility")).content.decode()
    assert str(mine) in body
    assert str(theirs) not in body


@pytest.mark.parametrize("extra", [0, 5])
def test_eligibility_page_queries_do_not_grow_with_rows(
    client, asset_manager, units, django_assert_num_queries, extra
):
    add_devices(units[0], 3 + extra)
    services.eligibility_recompute()
    client.force_login(asset_manager)
    # session, user, roles (groups), scope (unit_scopes), units for the filter,
    # the page of rows (one join), the summary aggregate, the last run
    with django_assert_num_queries(8):
        response = client.get(reverse("refresh:eligibility"))
    assert response.status_code == 200
    assert response.content.decode().count('class="govuk-table__row"') == 3 + extra + 1


def test_eligibility_keyset_pagination_walks_every_row_once(
    client, asset_manager, units, monkeypatch
):
    from refresh.views import eligibility_pages

    monkeypatch.setattr(eligibility_pages, "PAGE_SIZE", 2)
    devices = add_devices(units[0], 5)
    services.eligibility_recompute()
    client.force_login(asset_manager)
    seen, url = [], reverse("refresh:eligibility")
    for _ in range(5):
        response = client.get(url)
        seen += [str(d) for d in devices if f">{d}<" in response.content.decode()]
        nxt = response.context["next_url"]
        if not nxt:
            break
        url = reverse("refresh:eligibility") + nxt
    assert sorted(seen) == sorted(str(d) for d in devices)


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_eligibility_export_is_marked_and_scoped(client, make_user, units, fmt):
    north, south = units
    add_devices(north, 2)
    theirs = add_devices(south, 1)[0]
    services.eligibility_recompute()
    client.force_login(make_user(Role.UNIT_VIEWER, units=[north]))
    response = client.get(reverse("refresh:eligibility_export", args=[fmt]))
    assert response.status_code == 200
    body = b"".join(response.streaming_content)
    if fmt == "csv":
        text = body.decode("utf-8-sig")
        assert text.startswith("Classification: OFFICIAL")
        assert str(theirs) not in text
        assert len(text.strip().splitlines()) == 2 + 2
    else:
        import io

        import openpyxl

        sheet = openpyxl.load_workbook(io.BytesIO(body)).active
        assert sheet["A1"].value == "Classification: OFFICIAL"
        assert sheet.max_row >= 4
        assert str(theirs) not in [c.value for c in sheet["A"]]


def test_recompute_button_is_for_asset_managers_and_updates_the_time(
    client, make_user, units, django_capture_on_commit_callbacks
):
    add_devices(units[0], 1)
    client.force_login(make_user(Role.FINANCE))
    assert client.post(reverse("refresh:eligibility_recompute")).status_code == 403
    client.force_login(make_user(Role.ASSET_MANAGER))
    # the task is queued on commit (eager here)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("refresh:eligibility_recompute"))
    response = client.get(reverse("refresh:eligibility"))
    assert response.context["last_run"] is not None
    assert response.context["summary"]["due"] == 1


@pytest.mark.parametrize("extra", [0, 4])
def test_forecast_page_hides_costs_from_asset_managers_and_shows_them_to_finance(
    client, make_user, units, django_assert_num_queries, extra
):
    add_devices(units[0], 2 + extra)
    add_devices(units[1], 1)
    services.bau_rate_save(category="laptop", planning_unit_price=Decimal("1234.57"))
    services.eligibility_recompute()
    client.force_login(make_user(Role.ASSET_MANAGER))
    body = client.get(reverse("refresh:forecast")).content.decode()
    # The price carries pennies, so no username or id on the page can contain it by chance.
    assert "1,234.57" not in body and "1234.57" not in body and "data-commercial" not in body
    client.force_login(make_user(Role.FINANCE))
    # session, user, roles, scope; the one grouped eligibility query (refresh and
    # devices in use); headcount total; people per unit; BAU rates; catalogue
    # prices; planning prices; the plan snapshot; the baselines list; units for the filter
    with django_assert_num_queries(13):
        response = client.get(reverse("refresh:forecast"))
    body = response.content.decode()
    assert "£1,234.57" in body
    assert response.context["classification"] == OFFICIAL_SENSITIVE_COMMERCIAL


@pytest.mark.parametrize("extra", [0, 4])
def test_failure_rate_page_queries_are_constant(
    client, asset_manager, units, django_assert_num_queries, extra
):
    add_devices(units[0], 2 + extra)
    services.failure_rates_snapshot_refresh()
    client.force_login(asset_manager)
    # session, user, roles, scope, the snapshot's rows summed per category and band
    with django_assert_num_queries(5):
        response = client.get(reverse("refresh:failure_rates"))
    assert response.status_code == 200
    rates = [r for r in response.context["rows"] if r["category"] == "laptop"]
    assert sum(r["repairs"] for r in rates) == 2 + extra


def test_scenario_form_saves_and_compare_shows_costs_only_to_finance(client, make_user, units):
    add_devices(units[0], 3)
    services.eligibility_recompute()
    finance = make_user(Role.FINANCE)
    client.force_login(finance)
    response = client.post(
        reverse("refresh:scenario_create"),
        {
            "name": "Stretch",
            "lifecycle_months__laptop": "120",
            "unit_prices__laptop": "999",
            "volume_caps": "",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    compare = client.get(response["Location"])
    assert "data-commercial" in compare.content.decode()
    client.force_login(make_user(Role.ASSET_MANAGER))
    compare = client.get(response["Location"])
    assert "data-commercial" not in compare.content.decode()
    assert compare.context["result"]["rows"][0]["volume_delta"] == -3


def test_bad_scenario_input_names_the_line(client, make_user):
    client.force_login(make_user(Role.FINANCE))
    response = client.post(
        reverse("refresh:scenario_create"), {"name": "Caps", "volume_caps": "2025/26 laptop"}
    )
    assert response.status_code == 200
    assert "Line 1" in response.content.decode()


def test_unit_viewer_cannot_open_scenarios(client, make_user, units):
    client.force_login(make_user(Role.UNIT_VIEWER, units=[units[0]]))
    assert client.get(reverse("refresh:scenario_list")).status_code == 403


@pytest.mark.parametrize("extra", [0, 3])
def test_wave_pages_are_scoped_and_their_queries_constant(
    client, make_user, units, django_assert_num_queries, extra
):
    north, south = units
    add_devices(north, 2 + extra)
    services.eligibility_recompute()
    manager = make_user(Role.ASSET_MANAGER)
    wave = services.wave_create(name="North wave", volume=50, actor=manager, business_unit=north)
    client.force_login(manager)
    # session, user, roles, scope, units for the form, the waves with counts
    with django_assert_num_queries(6):
        client.get(reverse("refresh:wave_list"))
    # session, user, roles, scope, the wave, its swaps (one join)
    with django_assert_num_queries(6):
        response = client.get(reverse("refresh:wave_detail", args=[wave.pk]))
    assert len(response.context["items"]) == 2 + extra
    client.force_login(make_user(Role.UNIT_VIEWER, units=[south]))
    assert client.get(reverse("refresh:wave_detail", args=[wave.pk])).status_code == 404


def test_swap_page_walks_a_swap_to_completion(client, make_user, units):
    north = units[0]
    # Completion sends the old device back to the central store, so one must exist.
    BusinessUnitFactory(code="EUS-STORES")
    add_devices(north, 1)
    services.eligibility_recompute()
    manager = make_user(Role.ASSET_MANAGER)
    wave = services.wave_create(name="W", volume=1, actor=manager)
    item = wave.items.get()
    stock = DeviceFactory(business_unit=north)
    client.force_login(manager)
    url = reverse("refresh:wave_item_detail", args=[wave.pk, item.pk])
    assert str(stock) in client.get(url).content.decode()
    for data in (
        {"action": "allocate", "code": stock.asset_tag},
        {"action": "hand_over"},
        {"action": "return", "old_device_condition": "worn"},
        {"action": "complete"},
    ):
        response = client.post(url, data)
        assert response.status_code == 302, response.content.decode()[:3000]
    assert WaveItem.objects.get(pk=item.pk).status == WaveItem.Status.COMPLETED


def test_swap_page_shows_the_at_refusal(client, make_user, units):
    north = units[0]
    person = PersonFactory(business_unit=north, at_needs=True)
    DeviceFactory(
        business_unit=north,
        status=Device.Status.DEPLOYED,
        assigned_to=person,
        purchase_date=dt.date(2019, 1, 1),
    )
    services.eligibility_recompute()
    manager = make_user(Role.ASSET_MANAGER)
    item = services.wave_create(name="W", volume=1, actor=manager).items.get()
    services.swap_allocate(item=item, new_device=DeviceFactory(business_unit=north), actor=manager)
    services.swap_hand_over(item=item, actor=manager)
    services.swap_record_return(item=item, actor=manager, condition="good")
    BusinessUnitFactory(code="EUS-STORES")
    client.force_login(manager)
    url = reverse("refresh:wave_item_detail", args=[item.wave_id, item.pk])
    response = client.post(url, {"action": "complete"})
    assert response.status_code == 400
    assert "assistive-technology needs" in response.content.decode()
    # The one who handed the device over cannot confirm their own handover's AT check.
    response = client.post(url, {"action": "confirm_at", "note": "NVDA works"})
    assert response.status_code == 400
    assert "someone other than" in response.content.decode()
    client.force_login(make_user(Role.ASSET_MANAGER))
    assert client.post(url, {"action": "confirm_at", "note": "NVDA works"}).status_code == 302
    assert client.post(url, {"action": "complete"}).status_code == 302


def test_policy_page_adds_a_version_and_refuses_non_managers(client, make_user, units):
    client.force_login(make_user(Role.FINANCE))
    assert (
        client.post(reverse("refresh:policy_list"), {"policy-category": "laptop"}).status_code
        == 403
    )
    client.force_login(make_user(Role.ASSET_MANAGER))
    response = client.post(
        reverse("refresh:policy_list"),
        {
            "policy-category": "laptop",
            "policy-effective_from": "2030-01-01",
            "policy-lifecycle_months": "60",
            "policy-repair_threshold": "3",
            "policy-idle_days": "90",
        },
    )
    assert response.status_code == 302
    response = client.get(reverse("refresh:policy_list"))
    assert "1 Jan 2030" in response.content.decode()


def test_bau_rates_are_set_by_finance_only(client, make_user):
    data = {
        "category": "laptop",
        "new_starters_per_year": "100",
        "breakage_rate_pct": "2",
        "growth_pct": "1",
    }
    client.force_login(make_user(Role.ASSET_MANAGER))
    assert client.post(reverse("refresh:bau_rates"), data).status_code == 403
    client.force_login(make_user(Role.FINANCE))
    assert client.post(reverse("refresh:bau_rates"), data).status_code == 302


@pytest.mark.parametrize("extra", [0, 3])
def test_scenario_list_and_compare_queries_are_constant(
    client, make_user, units, django_assert_num_queries, extra
):
    add_devices(units[0], 2 + extra)
    services.eligibility_recompute()
    finance = make_user(Role.FINANCE)
    scenario = services.scenario_save(
        name="S", overrides={"defer_years": {"laptop": 1}}, actor=finance
    )
    for n in range(extra):
        services.scenario_save(name=f"S{n}", overrides={}, actor=finance)
    client.force_login(finance)
    # session, user, roles, scenarios with their authors (one join)
    with django_assert_num_queries(4):
        client.get(reverse("refresh:scenario_list"))
    # session, user, roles, the scenario, the viewer's scope; the grouped eligibility
    # query, policy lifecycles, headcount, people, catalogue and planning prices, BAU
    # rates (base and scenario); the envelope comparison is procurement's fragment
    with django_assert_num_queries(12):
        response = client.get(reverse("refresh:scenario_compare", args=[scenario.pk]))
    assert response.status_code == 200


@pytest.mark.parametrize("extra", [0, 3])
def test_policy_and_bau_pages_queries_are_constant(
    client, make_user, policies, django_assert_num_queries, extra
):
    for n in range(extra):
        services.refresh_policy_create(
            category="laptop", effective_from=dt.date(2021 + n, 1, 1), lifecycle_months=50
        )
        services.os_end_of_support_save(os_prefix=f"OS {n}", end_of_support=dt.date(2026, 1, 1))
    client.force_login(make_user(Role.FINANCE))
    # session, user, roles, policies in force, every version with author, OS table
    with django_assert_num_queries(6):
        client.get(reverse("refresh:policy_list"))
    # session, user, roles, rates with who changed them
    with django_assert_num_queries(4):
        client.get(reverse("refresh:bau_rates"))


@pytest.mark.parametrize("extra", [0, 3])
def test_swap_page_queries_are_constant(client, make_user, units, django_assert_num_queries, extra):
    north = units[0]
    add_devices(north, 1)
    for _ in range(3 + extra):
        DeviceFactory(business_unit=north)
    services.eligibility_recompute()
    manager = make_user(Role.ASSET_MANAGER)
    item = services.wave_create(name="W", volume=1, actor=manager).items.get()
    client.force_login(manager)
    # session, user, roles, scope, the wave, the swap (joined), its steps, a page of
    # stock candidates (the handover's AT check is read only for a person with AT needs)
    with django_assert_num_queries(8):
        response = client.get(reverse("refresh:wave_item_detail", args=[item.wave_id, item.pk]))
    assert len(response.context["stock"]) == 3 + extra


def test_every_refresh_page_needs_a_login(client, units):
    names = [
        ("refresh:eligibility", []),
        ("refresh:eligibility_export", ["csv"]),
        ("refresh:policy_list", []),
        ("refresh:bau_rates", []),
        ("refresh:forecast", []),
        ("refresh:forecast_export", []),
        ("refresh:failure_rates", []),
        ("refresh:scenario_list", []),
        ("refresh:scenario_create", []),
        ("refresh:wave_list", []),
    ]
    for name, args in names:
        response = client.get(reverse(name, args=args))
        assert response.status_code == 302, name
        assert "/login/" in response["Location"], name


def test_forecast_filters_to_a_unit_and_exports_by_unit_with_the_marking(client, make_user, units):
    north, south = units
    add_devices(north, 2)
    add_devices(south, 3)
    services.bau_rate_save(category="laptop", planning_unit_price=Decimal("500.00"))
    services.eligibility_recompute()
    client.force_login(make_user(Role.FINANCE))
    response = client.get(reverse("refresh:forecast"), {"business_unit": south.pk})
    assert sum(r["refresh_volume"] for r in response.context["rows"]) == 3
    export = client.get(reverse("refresh:forecast_export")).content.decode("utf-8-sig")
    lines = export.splitlines()
    assert lines[0] == "Classification: OFFICIAL-SENSITIVE [COMMERCIAL]"
    assert lines[2].endswith("Unit price,Cost,Funded by the envelope")
    assert sum(int(line.split(",")[3]) for line in lines[3:]) == 5
    # a unit viewer of north cannot pick south, and their export holds north only
    client.force_login(make_user(Role.UNIT_VIEWER, units=[north]))
    response = client.get(reverse("refresh:forecast"), {"business_unit": south.pk})
    assert sum(r["refresh_volume"] for r in response.context["rows"]) == 2
    export = client.get(reverse("refresh:forecast_export")).content.decode("utf-8-sig")
    assert export.startswith("Classification: OFFICIAL\r\n")
    assert "SOUTH" not in export and "Cost" not in export


def test_a_scoped_asset_manager_cannot_allocate_another_units_device(client, make_user, units):
    north, south = units
    add_devices(north, 1)
    services.eligibility_recompute()
    manager = make_user(Role.ASSET_MANAGER, units=[north])
    wave = services.wave_create(name="North", volume=1, actor=manager, business_unit=north)
    item = wave.items.get()
    theirs = DeviceFactory(business_unit=south, asset_tag="SOUTH-0001")
    client.force_login(manager)
    url = reverse("refresh:wave_item_detail", args=[wave.pk, item.pk])
    assert "SOUTH-0001" not in client.get(url).content.decode()
    response = client.post(url, {"action": "allocate", "new_device": theirs.pk})
    assert response.status_code == 400
    page = response.content.decode()
    assert services.DEVICE_NOT_FOUND in page
    assert "SOUTH-0001" not in page
    # Scanned, the other unit's tag is "not found" in the caller's units: nothing
    # about the device behind it.
    response = client.post(url, {"action": "allocate", "code": "SOUTH-0001"})
    assert response.status_code == 400
    assert "No device with the serial number or asset tag “SOUTH-0001” in your units" in (
        response.content.decode()
    )
    assert theirs.serial_number not in response.content.decode()
    item.refresh_from_db()
    assert (item.status, item.new_device_id) == (WaveItem.Status.PLANNED, None)


def test_a_scoped_asset_manager_may_allocate_central_store_stock(client, make_user, units):
    """Central stores serve every unit's swaps: their stock is allocatable by a
    manager scoped to one unit, though the store lies outside that unit."""
    north, _south = units
    add_devices(north, 1)
    services.eligibility_recompute()
    manager = make_user(Role.ASSET_MANAGER, units=[north])
    wave = services.wave_create(name="North", volume=1, actor=manager, business_unit=north)
    item = wave.items.get()
    store = BusinessUnitFactory(code="CENTRAL-STORE")
    stock = DeviceFactory(
        business_unit=store,
        asset_tag="STORE-0001",
        device_model=item.old_device.device_model,
    )
    client.force_login(manager)
    url = reverse("refresh:wave_item_detail", args=[wave.pk, item.pk])
    assert "STORE-0001" in client.get(url).content.decode()
    response = client.post(url, {"action": "allocate", "code": "STORE-0001"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert (item.status, item.new_device_id) == (WaveItem.Status.ALLOCATED, stock.pk)


def test_failure_rates_count_only_the_scoped_units_devices(units):
    from accounts.scoping import UnitScope
    from refresh import selectors

    north, south = units
    add_devices(north, 2)
    add_devices(south, 3)
    child = BusinessUnitFactory(code="NORTH-EAST", parent=north)
    add_devices(child, 1)
    services.failure_rates_snapshot_refresh()

    def devices_and_repairs(scope):
        rows = selectors.failure_rates(scope=scope)
        return (
            sum(r["devices"] for r in rows if r["band"] == "0–1"),
            sum(r["repairs"] for r in rows),
        )

    assert devices_and_repairs(UnitScope(unrestricted=True)) == (6, 6)
    assert devices_and_repairs(UnitScope(unrestricted=False, paths=(north.path,))) == (3, 3)
    assert selectors.failure_rates(scope=UnitScope(unrestricted=False)) == []
