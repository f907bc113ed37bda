import datetime as dt
from decimal import Decimal

import pytest
from freezegun import freeze_time

from core.errors import DomainError
from core.financial_year import FinancialYear
from devices.models import Category
from refresh import selectors, services
from tests.factories import BusinessUnitFactory, DeviceFactory, DeviceModelFactory

pytestmark = pytest.mark.django_db

FYS = [FinancialYear(2025), FinancialYear(2026), FinancialYear(2027)]


@pytest.fixture
def estate(policies):
    unit = BusinessUnitFactory(code="A")
    monitor_model = DeviceModelFactory(
        name="P2422H", category=Category.MONITOR, unit_price=Decimal("150.00")
    )
    # 4 laptops due 2025/26 at 48 months (bought 2021/22), 60 months -> 2026/27
    for _ in range(4):
        DeviceFactory(business_unit=unit, purchase_date=dt.date(2021, 9, 1))
    # 2 monitors due 2025/26 at 84 months
    for _ in range(2):
        DeviceFactory(
            business_unit=unit, device_model=monitor_model, purchase_date=dt.date(2018, 9, 1)
        )
    services.bau_rate_save(category=Category.LAPTOP, planning_unit_price=Decimal("1000.00"))
    return unit


def rows_of(result):
    return {(r["financial_year"], r["category"]): r for r in result["rows"]}


@freeze_time("2025-06-15 12:00:00")
def test_stretching_laptops_moves_their_demand_and_cost_a_year_later(estate, asset_manager):
    services.eligibility_recompute()
    scenario = services.scenario_save(
        name="Stretch laptops", overrides={"lifecycle_months": {"laptop": 60}}, actor=asset_manager
    )
    rows = rows_of(selectors.scenario_compare(scenario=scenario, financial_years=FYS))
    assert rows[("2025/26", "laptop")]["base_volume"] == 4
    assert rows[("2025/26", "laptop")]["scenario_volume"] == 0
    assert rows[("2025/26", "laptop")]["cost_delta"] == Decimal("-4000.00")
    assert rows[("2026/27", "laptop")]["volume_delta"] == 4
    # monitors are untouched
    assert rows[("2025/26", "monitor")]["volume_delta"] == 0


@freeze_time("2025-06-15 12:00:00")
def test_deferring_monitors_a_year_within_the_years_compared_saves_nothing(estate, asset_manager):
    services.eligibility_recompute()
    scenario = services.scenario_save(
        name="Defer monitors", overrides={"defer_years": {"monitor": 1}}, actor=asset_manager
    )
    result = selectors.scenario_compare(scenario=scenario, financial_years=FYS)
    rows = rows_of(result)
    assert rows[("2025/26", "monitor")]["scenario_volume"] == 0
    assert rows[("2026/27", "monitor")]["scenario_volume"] == 2
    # moved within the two years compared: no saving overall
    assert result["saving"] == Decimal("0.00")
    assert result["scenario_cost"] == result["base_cost"] > 0


@freeze_time("2025-06-15 12:00:00")
def test_volume_cap_carries_the_excess_into_the_next_year(estate, asset_manager):
    services.eligibility_recompute()
    scenario = services.scenario_save(
        name="Cap", overrides={"volume_caps": {"2025/26": {"laptop": 1}}}, actor=asset_manager
    )
    rows = rows_of(selectors.scenario_compare(scenario=scenario, financial_years=FYS))
    assert rows[("2025/26", "laptop")]["scenario_volume"] == 1
    assert rows[("2025/26", "laptop")]["deferred_by_cap"] == 3
    assert rows[("2026/27", "laptop")]["scenario_volume"] == 3


@freeze_time("2025-06-15 12:00:00")
def test_a_unit_price_override_changes_cost_not_volume(estate, asset_manager):
    services.eligibility_recompute()
    scenario = services.scenario_save(
        name="Cheaper laptops", overrides={"unit_prices": {"laptop": "800"}}, actor=asset_manager
    )
    result = selectors.scenario_compare(scenario=scenario, financial_years=FYS)
    row = rows_of(result)[("2025/26", "laptop")]
    assert row["volume_delta"] == 0
    assert row["cost_delta"] == Decimal("-800.00")
    assert result["saving"] == Decimal("800.00")


@pytest.mark.parametrize(
    ("overrides", "field", "words"),
    [
        ({"lifecycle_months": {"laptop": 0}}, "lifecycle_months", "1 to 240"),
        ({"lifecycle_months": {"toaster": 60}}, "lifecycle_months", "not a category"),
        ({"defer_years": {"monitor": "soon"}}, "defer_years", "not a number"),
        ({"volume_caps": {"2025": {"laptop": 1}}}, "volume_caps", "financial year"),
        ({"unit_prices": {"laptop": -1}}, "unit_prices", "negative"),
        ({"bau": {"laptop": {"colour": 1}}}, "bau", "use only"),
        ({"surprise": 1}, "overrides", "Unknown override"),
    ],
)
def test_bad_overrides_are_refused_naming_the_field(asset_manager, overrides, field, words):
    with pytest.raises(DomainError) as err:
        services.scenario_save(name="Bad", overrides=overrides, actor=asset_manager)
    assert err.value.field == field
    assert words in str(err.value)


def test_a_bad_edit_leaves_the_saved_scenario_as_it_was(asset_manager):
    scenario = services.scenario_save(
        name="Keep", overrides={"defer_years": {"monitor": 1}}, actor=asset_manager
    )
    with pytest.raises(DomainError):
        services.scenario_save(
            name="Keep",
            overrides={"defer_years": {"monitor": -1}},
            actor=asset_manager,
            scenario=scenario,
        )
    scenario.refresh_from_db()
    assert scenario.overrides == {"defer_years": {"monitor": 1}}


@freeze_time("2025-06-15 12:00:00")
def test_stretching_lifecycles_does_not_undo_a_refresh_forced_by_repairs(policies, asset_manager):
    from devices.models import DeviceEvent
    from tests.factories import DeviceEventFactory

    unit = BusinessUnitFactory(code="A")
    worn = DeviceFactory(business_unit=unit, purchase_date=dt.date(2023, 9, 1))
    for _ in range(3):
        DeviceEventFactory(device=worn, kind=DeviceEvent.Kind.REPAIRED)
    services.eligibility_recompute()
    scenario = services.scenario_save(
        name="Stretch", overrides={"lifecycle_months": {"laptop": 120}}, actor=asset_manager
    )
    rows = rows_of(selectors.scenario_compare(scenario=scenario, financial_years=FYS))
    assert rows[("2025/26", "laptop")]["base_volume"] == 1
    assert rows[("2025/26", "laptop")]["scenario_volume"] == 1


@freeze_time("2025-06-15 12:00:00")
def test_a_bau_rate_override_changes_bau_volume_in_every_year(estate, asset_manager):
    from tests.factories import PersonFactory

    for _ in range(4):
        PersonFactory(business_unit=estate)
    services.bau_rate_save(category=Category.LAPTOP, new_starters_per_year=8)
    services.eligibility_recompute()
    scenario = services.scenario_save(
        name="More starters",
        overrides={"bau": {"laptop": {"new_starters_per_year": 20}}},
        actor=asset_manager,
    )
    rows = rows_of(selectors.scenario_compare(scenario=scenario, financial_years=FYS))
    # all four people are in the one unit, so the whole intake lands on it
    for fy in ("2025/26", "2026/27", "2027/28"):
        assert rows[(fy, "laptop")]["volume_delta"] == 12
