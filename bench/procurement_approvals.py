"""Benchmark: concurrent purchase-order approvals against one envelope, and the
finance dashboard's selectors over many orders.

    createdb -h 127.0.0.1 -U postgres bench_procurement
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_procurement .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_procurement \
        .venv/bin/python bench/procurement_approvals.py [--orders 400] [--threads 8] [--history 20000]

It creates its own data (and deletes earlier bench data), then prints:
- approvals per second with THREADS threads racing on one envelope whose line
  admits only part of the orders, and that the committed sum never exceeds it;
- envelope_position() and commitment_burn_down() time with HISTORY orders.
Every approval locks the envelope row, so approvals against one envelope are
serialised by design: the figure is the cost of that guard.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import statistics
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.db.models import Sum  # noqa: E402

from accounts.models import BusinessUnit  # noqa: E402
from accounts.services import user_create  # noqa: E402
from core.errors import DomainError  # noqa: E402
from core.financial_year import current_financial_year  # noqa: E402
from devices.models import DeviceModel, Manufacturer  # noqa: E402
from procurement import selectors, services  # noqa: E402
from procurement.models import (  # noqa: E402
    ApprovalAuthority,
    ApprovalRecord,
    BudgetLine,
    BudgetTransfer,
    CapitalEnvelope,
    Contract,
    ContractAward,
    ProcurementThreshold,
    PurchaseOrder,
    PurchaseOrderLine,
    Receipt,
    ReceivedDevice,
    Supplier,
)

# Approvals are dated today (the service takes no day), so the race runs in the current
# financial year and the history in the one before it.
THIS_YEAR = current_financial_year()
LAST_YEAR = THIS_YEAR.previous()


def reset():
    # Approval records, transfers, awards and procurement's history are append-only on
    # PostgreSQL (row triggers refuse DELETE); TRUNCATE is the operator's reset.
    tables = [
        model._meta.db_table
        for model in (
            ReceivedDevice,
            Receipt,
            ApprovalRecord,
            PurchaseOrderLine,
            PurchaseOrder,
            BudgetTransfer,
            ContractAward,
            Contract,
            BudgetLine,
            CapitalEnvelope,
            ProcurementThreshold,
            ApprovalAuthority,
        )
    ]
    tables += [
        model.history.model._meta.db_table
        for model in (PurchaseOrder, Contract, BudgetLine, CapitalEnvelope, ApprovalAuthority)
    ] + [ProcurementThreshold.history.model._meta.db_table]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} CASCADE")


def setup(orders: int, history: int):
    raiser = user_create(username="bench.raiser", role="finance", password=None)
    approver = user_create(username="bench.approver", role="commercial", password=None)
    unit, _ = BusinessUnit.objects.get_or_create(
        code="BENCH", defaults={"name": "Bench unit", "path": "BENCH/"}
    )
    maker, _ = Manufacturer.objects.get_or_create(name="BenchMaker")
    model, _ = DeviceModel.objects.get_or_create(
        manufacturer=maker,
        name="Bench laptop",
        defaults={"category": "laptop", "unit_price": Decimal("900")},
    )
    supplier, _ = Supplier.objects.get_or_create(name="Bench supplier")
    envelope = services.capital_envelope_create(
        name="Bench envelope", total=Decimal("46763000"), decision_reference="BENCH"
    )
    for kind, amount in (("regulations", "213477"), ("deputy_mayor", "500000")):
        services.threshold_create(
            kind=kind, amount=Decimal(amount), effective_from=dt.date(2024, 1, 1)
        )
    # The default table (commercial officers up to £25m); no role is unlimited.
    services.approval_authorities_default_ensure(effective_from=dt.date(2024, 1, 1))
    # The race orders are placed under an awarded call-off: off-contract orders to one
    # supplier would aggregate past the regulations threshold after 21 of them.
    call_off = services.contract_create(
        envelope=envelope,
        supplier=supplier,
        reference="BENCH-CO",
        title="Bench call-off",
        route=Contract.Route.CALL_OFF,
        framework_name="Bench framework",
        ordering_process_followed=True,
        framework_ceiling=Decimal("100000000"),
        framework_end_date=THIS_YEAR.end,
        value_ceiling=Decimal("40000000"),
        start_date=LAST_YEAR.start,
        end_date=THIS_YEAR.end,
    )
    services.contract_award_record(
        contract=call_off,
        compliant_route="Bench: call-off following the ordering process",
        dsp_consent_reference="BENCH-DSP",
        dsp_consent_on=LAST_YEAR.start - dt.timedelta(days=31),
        awarded_on=LAST_YEAR.start - dt.timedelta(days=31),
        dmpc_notified_on=LAST_YEAR.start - dt.timedelta(days=59),
        dmpc_called_in=False,
        recorded_by=approver,
    )
    # The race line: each order is £10,000 gross; the line admits half of them.
    race = services.budget_line_create(
        envelope=envelope,
        financial_year=THIS_YEAR.label,
        category="laptop",
        amount=Decimal(10000 * (orders // 2)),
    )
    history_line = services.budget_line_create(
        envelope=envelope,
        financial_year=LAST_YEAR.label,
        category="laptop",
        amount=Decimal("40000000"),
    )

    def raise_orders(line, count, status, contract=None):
        with transaction.atomic():
            created = PurchaseOrder.objects.bulk_create(
                PurchaseOrder(
                    budget_line=line,
                    supplier=supplier,
                    contract=contract,
                    business_unit=unit,
                    raised_by=raiser,
                    status=status,
                    net_total=Decimal("10000"),
                    gross_total=Decimal("10000"),
                    committed_total=Decimal("10") if status == "approved" else 0,
                    approved_on=(LAST_YEAR.start + dt.timedelta(days=i % 360))
                    if status == "approved"
                    else None,
                )
                for i in range(count)
            )
            if not all(o.pk for o in created):
                created = list(PurchaseOrder.objects.filter(budget_line=line).order_by("pk"))
            PurchaseOrderLine.objects.bulk_create(
                PurchaseOrderLine(
                    purchase_order=o,
                    device_model=model,
                    quantity=10,
                    unit_price=Decimal("1000"),
                    vat_rate=0,
                    net_total=10000,
                    vat_total=0,
                    gross_total=10000,
                )
                for o in created
            )
        return created

    race_orders = raise_orders(race, orders, "submitted", contract=call_off)
    raise_orders(history_line, history, "approved")
    return approver, race, race_orders


def race(approver, orders, threads: int):
    queue = list(orders)
    lock = threading.Lock()
    latencies, outcomes = [], {"approved": 0, "refused": 0}

    def worker():
        try:
            while True:
                with lock:
                    if not queue:
                        return
                    order = queue.pop()
                start = time.perf_counter()
                try:
                    services.purchase_order_approve(purchase_order=order, approved_by=approver)
                    kind = "approved"
                except DomainError:
                    kind = "refused"
                elapsed = time.perf_counter() - start
                with lock:
                    latencies.append(elapsed)
                    outcomes[kind] += 1
        finally:
            connection.close()

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return time.perf_counter() - started, latencies, outcomes


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=400)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--history", type=int, default=20000)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        print("Run this against PostgreSQL (DATABASE_URL=postgres://...).")
        return
    reset()
    approver, line, orders = setup(args.orders, args.history)
    connection.close()
    wall, latencies, outcomes = race(approver, orders, args.threads)
    committed = PurchaseOrder.objects.filter(budget_line=line, status="approved").aggregate(
        t=Sum("committed_total")
    )["t"]
    line.refresh_from_db()
    latencies.sort()
    print(
        f"approvals: {len(latencies)} attempts by {args.threads} threads in {wall:.2f}s "
        f"= {len(latencies) / wall:.0f}/s; approved {outcomes['approved']}, refused "
        f"{outcomes['refused']}; p50 {statistics.median(latencies) * 1000:.1f} ms, "
        f"p95 {latencies[int(len(latencies) * 0.95)] * 1000:.1f} ms"
    )
    print(
        f"line £{line.amount:,}, committed £{committed:,}: "
        f"{'OK, within the line' if committed <= line.amount else 'OVERCOMMITTED'}"
    )
    for name, fn in (
        ("envelope_position", selectors.envelope_position),
        ("commitment_burn_down", selectors.commitment_burn_down),
    ):
        fn()  # warm
        runs = []
        for _ in range(5):
            start = time.perf_counter()
            fn()
            runs.append(time.perf_counter() - start)
        print(
            f"{name} over {args.history + args.orders:,} orders: "
            f"median {statistics.median(runs) * 1000:.1f} ms"
        )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    reset()


if __name__ == "__main__":
    main()
