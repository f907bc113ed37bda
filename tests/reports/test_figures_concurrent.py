"""The stewardship figures read on two PostgreSQL connections in one snapshot
(reports.concurrent) are exactly the sequential path's figures.

These tests commit their data (transactional_db): a second connection cannot see a
test's uncommitted rows, which is also why the concurrent path never runs inside an
atomic block.
"""

import datetime as dt
import threading

import pytest
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction

from devices.models import Category, Device
from reports import concurrent, selectors
from reports.selectors import figures as figures_module
from tests.reports.conftest import PERIOD_END, PERIOD_START

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

L, P, DT, M = Category.LAPTOP, Category.SMARTPHONE, Category.DESKTOP, Category.MONITOR


@pytest.fixture
def spy(monkeypatch):
    """Records each held-by-person read (thread, backend pid) and each use of the
    concurrent path, and the second connection's Django wrapper."""
    seen = {"held": [], "concurrent": 0, "second": []}
    held = figures_module._held_by_person

    def held_spy(*args, **kwargs):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        seen["held"].append((threading.get_ident(), pid))
        if threading.current_thread() is not threading.main_thread():
            # The thread's own wrapper (``connection`` is a proxy resolved per thread).
            seen["second"].append(connections[DEFAULT_DB_ALIAS])
        return held(*args, **kwargs)

    figures = concurrent.figures

    def figures_spy(**kwargs):
        seen["concurrent"] += 1
        return figures(**kwargs)

    # Patched where stewardship_figures looks it up: its own module's global.
    monkeypatch.setattr(figures_module, "_held_by_person", held_spy)
    monkeypatch.setattr(concurrent, "figures", figures_spy)
    return seen


def both_paths(settings, **kwargs):
    settings.REPORTS_CONCURRENT_FIGURES = True
    together = selectors.stewardship_figures(
        period_start=PERIOD_START, period_end=PERIOD_END, idle_days=90, **kwargs
    )
    settings.REPORTS_CONCURRENT_FIGURES = False
    alone = selectors.stewardship_figures(
        period_start=PERIOD_START, period_end=PERIOD_END, idle_days=90, **kwargs
    )
    return together, alone


def test_concurrent_figures_equal_the_sequential_figures_for_every_unit(estate, spy, settings):
    # Given the hand-built estate, committed
    # When the figures are read on two connections and then on one
    together, alone = both_paths(settings)
    # Then the concurrent path ran, on two backends from two threads
    assert spy["concurrent"] == 1
    concurrent_reads = spy["held"][:2]
    assert len({thread for thread, _ in concurrent_reads}) == 2
    assert len({pid for _, pid in concurrent_reads}) == 2
    # And every unit's figures are identical, lists in the same order included
    assert together == alone
    a = together[estate.a.pk]
    assert {(p["staff_number"], p["category"]) for p in a["people_over"]} == {
        ("PA1", L),
        ("PSUB", M),
    }
    assert a["headline"]["devices_held"] == 17
    assert a["headline"]["leavers_holding"] == 1


def test_concurrent_figures_equal_the_sequential_figures_for_one_subtree_with_refresh(
    estate, spy, settings
):
    # Four overdue laptops in A1 under a ten-year lifecycle: due this financial year.
    from refresh import services as refresh_services
    from tests.factories import DeviceFactory

    refresh_services.refresh_policy_create(
        category=L,
        effective_from=dt.date(2015, 1, 1),
        lifecycle_months=120,
        repair_threshold=99,
        idle_days=90,
        os_end_of_support_forces_refresh=False,
    )
    DeviceFactory.create_batch(
        4,
        business_unit=estate.a1,
        device_model=estate.models[L],
        purchase_date=dt.date(2016, 1, 1),
    )
    together, alone = both_paths(settings, root=estate.a)
    assert spy["concurrent"] == 1
    assert together == alone
    assert set(together) == {estate.a.pk, estate.a1.pk}
    assert together[estate.a.pk]["headline"]["refresh_due_this_year"] == 4


def test_concurrent_figures_close_the_second_connection(estate, spy, settings):
    settings.REPORTS_CONCURRENT_FIGURES = True
    selectors.stewardship_figures(period_start=PERIOD_START, period_end=PERIOD_END)
    assert len(spy["second"]) == 1
    assert spy["second"][0].connection is None


def test_inside_a_transaction_the_figures_are_read_on_one_connection_and_see_its_rows(
    estate, spy, settings
):
    settings.REPORTS_CONCURRENT_FIGURES = True
    with transaction.atomic():
        # Uncommitted: a second connection could not see it.
        Device.objects.filter(business_unit=estate.b, status=Device.Status.IN_STOCK).update(
            business_unit=estate.a
        )
        figures = selectors.stewardship_figures(
            period_start=PERIOD_START, period_end=PERIOD_END, idle_days=90
        )
        transaction.set_rollback(True)
    assert spy["concurrent"] == 0
    assert len({pid for _, pid in spy["held"]}) == 1
    assert figures[estate.a.pk]["headline"]["in_stock"] == 3 + 3
