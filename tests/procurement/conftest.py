"""Fixtures for procurement tests: the business case's envelope, thresholds and
approval table, built through the services."""

import datetime as dt
from decimal import Decimal

import pytest

from accounts.roles import Role
from procurement import services
from procurement.models import Contract, ProcurementThreshold, Supplier
from tests.factories import BusinessUnitFactory, DeviceModelFactory, UserFactory

THRESHOLD_DAY = dt.date(2024, 1, 1)
APPROVAL_DAY = dt.date(2025, 6, 2)


@pytest.fixture
def envelope(db):
    owner = UserFactory(role=Role.FINANCE)
    return services.capital_envelope_create(
        name="EUS device demand 2025/26 & 2026/27",
        total=Decimal("46763000.00"),
        decision_reference="DMPC-2025-001",
        owner=owner,
    )


@pytest.fixture
def laptop_line(envelope):
    return services.budget_line_create(
        envelope=envelope, financial_year="2025/26", category="laptop", amount=Decimal("1000000.00")
    )


@pytest.fixture
def thresholds(db):
    services.threshold_create(
        kind=ProcurementThreshold.Kind.REGULATIONS,
        amount=Decimal("213477.00"),
        effective_from=THRESHOLD_DAY,
    )
    services.threshold_create(
        kind=ProcurementThreshold.Kind.DEPUTY_MAYOR,
        amount=Decimal("500000.00"),
        effective_from=THRESHOLD_DAY,
    )


@pytest.fixture
def authorities(db):
    services.approval_authority_set(
        role=Role.FINANCE.value, limit=Decimal("100000.00"), effective_from=THRESHOLD_DAY
    )
    # Unlimited only as an explicit, recorded decision (no role is unlimited by default).
    services.approval_authority_set(
        role=Role.COMMERCIAL.value,
        limit=None,
        effective_from=THRESHOLD_DAY,
        decision_reference="Test decision: commercial officers unlimited",
    )


@pytest.fixture
def supplier(db):
    return Supplier.objects.create(name="Laptops R Us Ltd")


def award(contract, *, by=None, on=dt.date(2025, 3, 20)):
    """Record a contract's award (so it may take orders), with the DMPC outcome at
    £500,000 and above."""
    services.contract_award_record(
        contract=contract,
        compliant_route="Call-off following the framework's ordering process",
        dsp_consent_reference=f"DSP-{contract.reference}",
        dsp_consent_on=on,
        awarded_on=on,
        dmpc_notified_on=on,
        dmpc_called_in=False,
        recorded_by=by or UserFactory(role=Role.COMMERCIAL),
    )
    return contract


@pytest.fixture
def unawarded_call_off(envelope, supplier):
    return services.contract_create(
        envelope=envelope,
        supplier=supplier,
        reference="CCS-TePAS2-001",
        title="Laptops call-off",
        route=Contract.Route.CALL_OFF,
        framework_name="CCS Technology Products & Associated Services 2",
        framework_reference="RM6068",
        ordering_process_followed=True,
        framework_ceiling=Decimal("500000000.00"),
        framework_end_date=dt.date(2028, 3, 31),
        value_ceiling=Decimal("20000000.00"),
        start_date=dt.date(2025, 4, 1),
        end_date=dt.date(2027, 3, 31),
    )


@pytest.fixture
def call_off(unawarded_call_off, thresholds):
    return award(unawarded_call_off)


@pytest.fixture
def unit(db):
    return BusinessUnitFactory()


@pytest.fixture
def laptop_model(db):
    return DeviceModelFactory()


@pytest.fixture
def raiser(db):
    return UserFactory(role=Role.ASSET_MANAGER)


@pytest.fixture
def commercial_officer(db):
    return UserFactory(role=Role.COMMERCIAL)


@pytest.fixture
def make_order(laptop_line, supplier, unit, laptop_model, raiser):
    """A submitted order whose gross total is exactly ``gross`` (one line, VAT 0
    unless given), against the laptop line."""

    def _make(gross, *, contract=None, quantity=1, vat_rate=Decimal("0"), submit=True, line=None):
        unit_price = (Decimal(gross) / quantity) / (1 + vat_rate)
        order = services.purchase_order_create(
            budget_line=line or laptop_line,
            supplier=supplier,
            business_unit=unit,
            raised_by=raiser,
            contract=contract,
            lines=[
                {
                    "device_model": laptop_model,
                    "quantity": quantity,
                    "unit_price": unit_price.quantize(Decimal("0.01")),
                    "vat_rate": vat_rate,
                }
            ],
        )
        if submit:
            services.purchase_order_submit(purchase_order=order, actor=raiser)
        return order

    return _make


@pytest.fixture
def refresh_estate(db):
    """A small estate with refresh's real policies and planning price, for the tests
    of procurement's seam with refresh: four laptops bought in September 2021 (due
    2025/26 on a 48-month lifecycle), priced at £1,000, and no people (so no BAU).
    Eligibility is computed as at today: freeze time before using it."""
    from devices.models import Category
    from refresh import services as refresh_services
    from tests.factories import DeviceFactory

    for category in Category:
        refresh_services.refresh_policy_create(
            category=category,
            effective_from=dt.date(2020, 1, 1),
            lifecycle_months=48,
            repair_threshold=3,
            idle_days=90,
            os_end_of_support_forces_refresh=True,
        )
    unit = BusinessUnitFactory(code="RF")
    devices = [
        DeviceFactory(business_unit=unit, purchase_date=dt.date(2021, 9, 1)) for _ in range(4)
    ]
    refresh_services.bau_rate_save(category=Category.LAPTOP, planning_unit_price=Decimal("1000.00"))
    refresh_services.eligibility_recompute()
    return devices


def approve_on(order, approver, day: dt.date):
    """Approve through the service on ``day``: the service approves only today, so
    the clock is set to noon that day (London and UTC agree on the date at noon)."""
    from freezegun import freeze_time

    with freeze_time(dt.datetime.combine(day, dt.time(12, 0))):
        return services.purchase_order_approve(purchase_order=order, approved_by=approver)
