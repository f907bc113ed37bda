"""Demo data for refresh planning, run by ``manage.py seed_demo`` after the estate.

Policies from the business case's categories, OS end-of-support dates, BAU
rates, the late-2024 baseline (the plan), two saved scenarios and one wave in
progress, then eligibility for the whole estate and the failure-rate snapshot. Deterministic for a given rng;
every estate-wide step is set-based.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.db import transaction
from django.db.models import Count

from core.errors import DomainError
from core.financial_year import FinancialYear
from devices.models import Category, Device
from refresh import services
from refresh.models import (
    BaselineSnapshot,
    BauRate,
    EligibilityRun,
    OsEndOfSupport,
    RefreshPolicy,
    RefreshWave,
    Scenario,
)

POLICY_FROM = dt.date(2020, 4, 1)
LIFECYCLES = {
    Category.LAPTOP: 48,
    Category.DESKTOP: 60,
    Category.MONITOR: 84,
    Category.SMARTPHONE: 36,
    Category.TABLET: 48,
}
OS_END_OF_SUPPORT = {
    "Windows 10": dt.date(2025, 10, 14),
    "Windows 8.1": dt.date(2023, 1, 10),
    "iOS 15": dt.date(2024, 9, 16),
    "iOS 16": dt.date(2025, 9, 15),
    "Android 10": dt.date(2023, 3, 31),
    "Android 11": dt.date(2024, 2, 29),
}
# (new starters a year, breakage %, growth %, planning unit price)
BAU = {
    Category.LAPTOP: (2400, "3.00", "1.00", "950.00"),
    Category.DESKTOP: (150, "2.00", "-3.00", "780.00"),
    Category.MONITOR: (1200, "1.50", "0.00", "165.00"),
    Category.SMARTPHONE: (2800, "6.00", "1.00", "520.00"),
    Category.TABLET: (0, "0.00", "-10.00", None),
}
BASELINE_AS_OF = dt.date(2024, 11, 30)
# The demo user who confirms AT checks (not the one who hands devices over).
AT_CONFIRMER = "deskside.engineer"
SCENARIOS = [
    (
        "Stretch laptops to 60 months",
        "Keep laptops a year longer than policy: what moves out of the envelope years?",
        {"lifecycle_months": {"laptop": 60}},
    ),
    (
        "Defer monitors a year",
        "Monitors are rarely the bottleneck: push their refresh back a year.",
        {"defer_years": {"monitor": 1}},
    ),
]


def _demo_user(username: str, role: str):
    from accounts.services import user_create

    # demo_users sets the password later; until then the account cannot log in.
    return user_create(username=username, role=role, password=None)


def seed(*, rng, today: dt.date, stdout) -> None:
    if RefreshPolicy.objects.exists():
        stdout.write("  refresh demo data already present; skipped.")
        return
    planner = _demo_user("finance.officer", "finance")
    manager = _demo_user("asset.manager", "asset-manager")
    # AT is confirmed by someone other than who handed the device over (the AT
    # check's second pair of eyes): a deskside engineer in the demo.
    engineer = _demo_user(AT_CONFIRMER, "asset-manager")
    with transaction.atomic():
        RefreshPolicy.objects.bulk_create(
            RefreshPolicy(
                category=category,
                effective_from=POLICY_FROM,
                lifecycle_months=months,
                repair_threshold=3,
                idle_days=90,
                os_end_of_support_forces_refresh=category != Category.MONITOR,
                note="Business case policy",
                created_by=manager,
            )
            for category, months in LIFECYCLES.items()
        )
        OsEndOfSupport.objects.bulk_create(
            OsEndOfSupport(os_prefix=prefix, end_of_support=day)
            for prefix, day in OS_END_OF_SUPPORT.items()
        )
        BauRate.objects.bulk_create(
            BauRate(
                category=category,
                new_starters_per_year=starters,
                breakage_rate_pct=Decimal(breakage),
                growth_pct=Decimal(growth),
                planning_unit_price=Decimal(price) if price else None,
                updated_by=planner,
            )
            for category, (starters, breakage, growth, price) in BAU.items()
        )
    stdout.write("  policies, OS end of support and BAU rates set.")
    services.baseline_snapshot_create(
        name="Business case baseline (late 2024)",
        as_of=BASELINE_AS_OF,
        financial_years=[FinancialYear(2025), FinancialYear(2026)],
        is_plan=True,
        actor=planner,
        note="The estate and in-scope people the 2025/26 and 2026/27 volumes were built on.",
    )
    stdout.write(f"  baseline as at {BASELINE_AS_OF} saved as the plan.")
    for name, description, overrides in SCENARIOS:
        services.scenario_save(
            name=name, description=description, overrides=overrides, actor=planner
        )
    services.eligibility_recompute(trigger=EligibilityRun.Trigger.SEED, today=today)
    _wave_in_progress(rng=rng, manager=manager, engineer=engineer, stdout=stdout)
    run = services.eligibility_recompute(trigger=EligibilityRun.Trigger.SEED, today=today)
    # The failure-rate page reads a snapshot the nightly task refreshes: the demo
    # has one from the start, as a night would leave it.
    services.failure_rates_snapshot_refresh()
    stdout.write(
        f"  eligibility computed for {run.device_count:,} devices; "
        f"{BaselineSnapshot.objects.count()} baseline, {Scenario.objects.count()} scenarios, "
        f"{RefreshWave.objects.count()} wave."
    )


def _wave_in_progress(*, rng, manager, engineer, stdout) -> None:
    """One laptop wave for the unit with the most due laptops, its swaps spread
    over every state (a handful of service calls, not per-device estate work).
    Every step goes through the services, so the demo obeys every swap rule:
    stock from a central store, entitlement at handover, AT confirmed by the
    engineer (not the manager who handed over), the old device back to stores."""
    from refresh.models import DeviceEligibility

    busiest = (
        DeviceEligibility.objects.filter(
            is_due=True, category=Category.LAPTOP, device__status=Device.Status.DEPLOYED
        )
        .values("business_unit_id")
        .annotate(n=Count("pk"))
        .order_by("-n", "business_unit_id")
        .first()
    )
    if not busiest:
        stdout.write("  no due laptops: no demo wave.")
        return
    from accounts.models import BusinessUnit

    unit = BusinessUnit.objects.get(pk=busiest["business_unit_id"])
    wave = services.wave_create(
        name=f"{unit.code} laptop refresh, wave 1",
        volume=12,
        actor=manager,
        business_unit=unit,
        category=Category.LAPTOP,
    )
    items = list(wave.items.select_related("person").order_by("-priority", "id"))
    stock = list(
        Device.objects.filter(status=Device.Status.IN_STOCK, device_model__category=Category.LAPTOP)
        .select_related("business_unit")
        .order_by("-purchase_date", "id")[:200]
    )
    stock = [d for d in stock if services.is_central_store(d.business_unit)]
    rng.shuffle(stock)
    # Target state per item, in priority order: the wave is part-way through.
    plan = [
        "completed",
        "completed",
        "returned",
        "returned",
        "handed_over",
        "handed_over",
        "allocated",
        "allocated",
        "cancelled",
    ]
    for item, target in zip(items, plan, strict=False):
        try:
            if target == "cancelled":
                services.swap_cancel(
                    item=item,
                    actor=manager,
                    reason="The officer has left the force; the laptop goes back to stores.",
                )
                continue
            if not stock:
                break
            services.swap_allocate(item=item, new_device=stock.pop(), actor=manager)
            if target == "allocated":
                continue
            services.swap_hand_over(item=item, actor=manager)
            if target == "handed_over":
                continue
            services.swap_record_return(
                item=item,
                actor=manager,
                condition=rng.choice(["good", "worn", "worn", "damaged"]),
                notes="Collected at the handover.",
            )
            if target == "returned":
                continue
            if item.person.at_needs:
                services.swap_confirm_at(
                    item=item,
                    actor=engineer,
                    note="Screen reader and magnifier tested with the user",
                )
            services.swap_complete(item=item, actor=manager)
        except DomainError as exc:
            # e.g. the holder is above entitlement: the swap stays where it got to, as in life.
            stdout.write(f"  swap {item.pk} stopped: {exc.message}")
    stdout.write(f"  wave '{wave.name}' with {len(items)} swaps in progress.")
