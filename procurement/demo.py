"""Demo data for procurement: the business case's envelope and a year and a half of
buying against it, so the finance dashboard tells a story on first run.

- The envelope: £46,763,000 over 2025/26 (£24.1m) and 2026/27 (£22.663m), split
  by category (the split is illustrative: the paper's Part 2 is not published).
- Its thresholds: procurement regulations £213,477 incl. VAT and the DMPC's
  £500,000, both from 1 January 2024; the default approval table
  (``services.DEFAULT_APPROVAL_AUTHORITIES``: finance officers up to £213,476.99,
  commercial officers up to £25m; no role unlimited).
- Call-offs from the Crown Commercial Service "Technology Products & Associated
  Services 2" framework (laptops and desktops; smartphones) within the framework's
  ceiling and term (illustrative figures), and one new 4-year contract for
  monitors; each award recorded (compliant route, the Director of Strategic
  Procurement's consent, the DMPC call-in outcome) before it takes orders.
- Orders in every status. Approvals of past months are history: the public service
  approves only today (no caller may back-date an approval into a year since
  closed), so the demo writes each past approval through ``approve_as_history``
  below, which applies every rule of approval as on the recorded day and is reached
  by no page, API, admin or command: only this loader calls it. (Freezing the clock
  instead would need a test-only library in the running app.)
  Every other step goes through the services:
  ``finance.officer`` raises; ``finance.approver`` approves what is within finance's
  limit, ``commercial.officer`` the rest; compliant routes are confirmed by
  ``strategic.procurement`` (a commercial officer, no login) and DMPC decisions
  recorded by the raiser, so nobody approves an order they raised or recorded a
  decision on. One small order is left submitted for ``finance.approver`` to finish.
- About 380 devices received into stock through devices_receive_into_stock.

Runs once after the estate exists (``manage.py seed_demo``); does nothing if an
envelope is already recorded.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from accounts.models import BusinessUnit
from accounts.services import user_create
from devices.models import Category, DeviceModel
from procurement import services
from procurement.models import (
    ApprovalRecord,
    CapitalEnvelope,
    Contract,
    ProcurementThreshold,
    PurchaseOrder,
    Supplier,
)
from procurement.services import orders as orders_service

SPLIT = {
    "2025/26": {
        Category.LAPTOP: Decimal("15000000"),
        Category.DESKTOP: Decimal("3200000"),
        Category.MONITOR: Decimal("1900000"),
        Category.SMARTPHONE: Decimal("4000000"),
    },
    "2026/27": {
        Category.LAPTOP: Decimal("14100000"),
        Category.DESKTOP: Decimal("2900000"),
        Category.MONITOR: Decimal("1663000"),
        Category.SMARTPHONE: Decimal("4000000"),
    },
}
ENVELOPE_TOTAL = Decimal("46763000")
TEPAS2 = "Crown Commercial Service Technology Products & Associated Services 2"
# Illustrative framework figures: a call-off may not exceed them.
TEPAS2_CEILING = Decimal("3000000000")
TEPAS2_ENDS = dt.date(2027, 9, 30)
AWARDED_ON = dt.date(2025, 3, 20)
S = PurchaseOrder.Status

# (financial year, category, model choice, quantity, final status, approve month offset,
#  received quantity or None for all)
ORDERS = [
    ("2025/26", Category.LAPTOP, 0, 9000, S.ORDERED, 1, 0),
    ("2025/26", Category.LAPTOP, 1, 150, S.RECEIVED, 2, None),
    ("2025/26", Category.SMARTPHONE, 0, 3000, S.PARTLY_RECEIVED, 3, 120),
    ("2025/26", Category.DESKTOP, 0, 80, S.CLOSED, 4, None),
    ("2025/26", Category.MONITOR, 0, 1500, S.APPROVED, 6, 0),
    ("2025/26", Category.LAPTOP, 0, 60, S.CANCELLED, 7, 0),
    ("2026/27", Category.DESKTOP, 0, 30, S.RECEIVED, 13, None),
    ("2026/27", Category.MONITOR, 0, 50, S.ORDERED, 14, 0),
    ("2026/27", Category.LAPTOP, 0, 6000, S.ORDERED, 14, 0),
    ("2026/27", Category.SMARTPHONE, 0, 2500, S.ORDERED, 15, 0),
    ("2026/27", Category.LAPTOP, 1, 5000, S.SUBMITTED, 17, 0),
    ("2026/27", Category.SMARTPHONE, 0, 40, S.DRAFT, 16, 0),
    # Within finance's limit, waiting for finance.approver (finance.officer raised it).
    ("2026/27", Category.DESKTOP, 1, 20, S.SUBMITTED, 18, 0),
]


def approve_as_history(*, purchase_order, approved_by, approved_on: dt.date):
    """Record an approval made on a past day, for demo history only.

    The same checks as ``services.purchase_order_approve`` (separation of duties,
    delegated limits, thresholds, the year not closed, the line and the envelope),
    applied as on ``approved_on``. Refuses today or a later day: today's approvals go
    through the service, like everyone's."""
    if approved_on >= services.london_today():
        raise ValueError("approve_as_history records past approvals only; use the service.")
    return orders_service._approve_on(
        purchase_order=purchase_order, approved_by=approved_by, day=approved_on
    )


def _models(category: str) -> list[DeviceModel]:
    """The two newest models of a category in the catalogue (newest support date)."""
    return list(
        DeviceModel.objects.filter(category=category, unit_price__isnull=False)
        .select_related("manufacturer")
        .order_by("-end_of_support", "pk")[:2]
    )


def seed(*, rng: random.Random, today: dt.date, stdout) -> None:
    if CapitalEnvelope.objects.exists():
        stdout.write("  procurement: an envelope exists already; nothing to do.")
        return
    finance = user_create(username="finance.officer", role="finance", password=None)
    finance_approver = user_create(username="finance.approver", role="finance", password=None)
    commercial = user_create(username="commercial.officer", role="commercial", password=None)
    # The Director of Strategic Procurement's office: confirms compliant routes, so the
    # commercial officer who approves is never the one who recorded them.
    strategic = user_create(username="strategic.procurement", role="commercial", password=None)
    manager = user_create(username="asset.manager", role="asset-manager", password=None)

    envelope = services.capital_envelope_create(
        name="EUS device demand 2025/26 & 2026/27",
        total=ENVELOPE_TOTAL,
        decision_reference="DMPC Decision – EUS Device demand 2025/26 & 2026/27",
        owner=finance,
        description="Capital spend from the approved DDaT Capital Plan to replace end user "
        "laptops, desktops, monitors and smartphones (BAU and refresh demand).",
    )
    lines = {
        (year, category): services.budget_line_create(
            envelope=envelope, financial_year=year, category=category, amount=amount
        )
        for year, split in SPLIT.items()
        for category, amount in split.items()
    }
    for kind, amount in (
        (ProcurementThreshold.Kind.REGULATIONS, Decimal("213477.00")),
        (ProcurementThreshold.Kind.DEPUTY_MAYOR, Decimal("500000.00")),
    ):
        services.threshold_create(
            kind=kind,
            amount=amount,
            effective_from=dt.date(2024, 1, 1),
            source="Business case: Legal Comments (PCR 2015; MOPAC Scheme of Delegation 4.8, 4.14)",
        )
    services.approval_authorities_default_ensure(effective_from=dt.date(2024, 1, 1))

    devices_supplier = Supplier.objects.create(
        name="Albion Technology Services Ltd", contact_email="orders@albion.example"
    )
    mobile_supplier = Supplier.objects.create(
        name="Thames Mobile Solutions Ltd", contact_email="orders@thames-mobile.example"
    )
    start, end = dt.date(2025, 4, 1), dt.date(2027, 3, 31)
    contracts = {
        "devices": services.contract_create(
            envelope=envelope,
            supplier=devices_supplier,
            reference="TEPAS2-CO-0147",
            title="Laptops and desktops call-off",
            route=Contract.Route.CALL_OFF,
            framework_name=TEPAS2,
            framework_reference="RM6098",
            ordering_process_followed=True,
            framework_ceiling=TEPAS2_CEILING,
            framework_end_date=TEPAS2_ENDS,
            value_ceiling=Decimal("36000000"),
            start_date=start,
            end_date=end,
            created_by=commercial,
        ),
        "mobile": services.contract_create(
            envelope=envelope,
            supplier=mobile_supplier,
            reference="TEPAS2-CO-0152",
            title="Smartphones call-off",
            route=Contract.Route.CALL_OFF,
            framework_name=TEPAS2,
            framework_reference="RM6098",
            ordering_process_followed=True,
            framework_ceiling=TEPAS2_CEILING,
            framework_end_date=TEPAS2_ENDS,
            value_ceiling=Decimal("8000000"),
            start_date=start,
            end_date=end,
            created_by=commercial,
        ),
        "monitors": services.contract_create(
            envelope=envelope,
            supplier=devices_supplier,
            reference="MPS-NC-2025-031",
            title="Monitor supply (new contract, 4 years)",
            route=Contract.Route.NEW_CONTRACT,
            value_ceiling=Decimal("4000000"),
            start_date=start,
            end_date=dt.date(2029, 3, 31),
            created_by=commercial,
        ),
    }
    for key, contract in contracts.items():
        called_in = key == "monitors"  # a new contract: the DMPC called it in and approved
        services.contract_award_record(
            contract=contract,
            compliant_route=(
                f"Call-off under {contract.framework_reference} following its ordering process"
                if contract.route == Contract.Route.CALL_OFF
                else "Open procedure under the Public Contracts Regulations 2015"
            ),
            dsp_consent_reference=f"DSP consent {contract.reference}",
            dsp_consent_on=AWARDED_ON - dt.timedelta(days=7),
            awarded_on=AWARDED_ON,
            dmpc_notified_on=AWARDED_ON - dt.timedelta(days=30),
            dmpc_called_in=called_in,
            dmpc_decision_reference="PCD 1187: DMPC approval of the award" if called_in else "",
            recorded_by=commercial,
        )
    units = list(
        BusinessUnit.objects.filter(level=BusinessUnit.Level.UNIT, active=True).order_by("code")[
            :40
        ]
    )
    if not units:
        units = list(BusinessUnit.objects.order_by("code")[:1])
    if not units:
        stdout.write("  procurement: no business units; envelope only.")
        return

    # Past approvals only (today's go through the service, as the demo's waiting order
    # shows): the last of them the day before the demo's today.
    latest = max(start, min(today - dt.timedelta(days=1), end))
    received_total = 0
    for year, category, model_index, quantity, final, month_offset, partial in ORDERS:
        models = _models(category)
        if not models:
            continue
        model = models[min(model_index, len(models) - 1)]
        contract = contracts[
            "mobile"
            if category == Category.SMARTPHONE
            else "monitors"
            if category == Category.MONITOR
            else "devices"
        ]
        # Spread approvals month by month from April 2025, never after the demo's today.
        approve_on = min(
            dt.date(
                2025 + (3 + month_offset) // 12, (3 + month_offset) % 12 + 1, rng.randint(2, 27)
            ),
            latest,
        )
        quantity = max(1, quantity + rng.randint(-quantity // 20, quantity // 20))
        order = services.purchase_order_create(
            budget_line=lines[(year, category)],
            supplier=contract.supplier,
            contract=contract,
            business_unit=rng.choice(units),
            raised_by=finance,
            description=f"{year} {category} demand: {quantity} × {model}",
            lines=[
                {
                    "device_model": model,
                    "quantity": quantity,
                    "unit_price": model.unit_price,
                    "vat_rate": Decimal("0.2"),
                }
            ],
        )
        if final == S.DRAFT:
            continue
        if final == S.CANCELLED:
            services.purchase_order_cancel(
                purchase_order=order,
                actor=commercial,
                reason="Duplicate of an order already placed for the same demand.",
            )
            continue
        services.purchase_order_submit(purchase_order=order, actor=order.raised_by)
        missing = services.approval_requirements(purchase_order=order, on_date=approve_on)
        if any("compliant route" in m for m in missing):
            services.approval_record_add(
                purchase_order=order,
                kind=ApprovalRecord.Kind.COMPLIANT_ROUTE,
                reference=f"{contract.framework_reference or contract.reference} ordering "
                "process followed",
                recorded_by=strategic,
            )
        if final == S.SUBMITTED:
            continue  # left waiting for the DMPC: the page shows what is missing
        if any("DMPC" in m for m in missing):
            services.approval_record_add(
                purchase_order=order,
                kind=ApprovalRecord.Kind.DMPC,
                reference=f"PCD {rng.randint(1200, 1899)}: DMPC approval / no call-in",
                recorded_by=finance,
            )
        may_approve, finance_limit = services.approval_limit_for(
            user=finance_approver, on_date=approve_on
        )
        within_finance = may_approve and (
            finance_limit is None or order.gross_total <= finance_limit
        )
        approver = finance_approver if within_finance else commercial
        approve_as_history(purchase_order=order, approved_by=approver, approved_on=approve_on)
        if final == S.APPROVED:
            continue
        services.purchase_order_mark_ordered(purchase_order=order, actor=commercial)
        to_receive = quantity if partial is None else partial
        if to_receive:
            line = order.lines.get()
            serials = [f"PROC{order.pk:04d}{n:05d}" for n in range(to_receive)]
            services.purchase_order_receive(
                line=line,
                serial_numbers=serials,
                received_by=manager,
                received_on=min(approve_on + dt.timedelta(days=rng.randint(20, 45)), today),
            )
            received_total += to_receive
        if final == S.CLOSED:
            services.purchase_order_close(purchase_order=order, actor=commercial)
    stdout.write(
        f"  procurement: envelope £{ENVELOPE_TOTAL:,}, {len(lines)} budget lines, "
        f"{len(contracts)} contracts, {PurchaseOrder.objects.count()} orders, "
        f"{received_total} devices received into stock."
    )
